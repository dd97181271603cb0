import { describe, expect, it } from "vitest";
import { format, LOCALES, pickLocale, translate } from "../src/i18n";

describe("i18n", () => {
  it("ships English and Chinese, each with the same keys and a display name", () => {
    expect(Object.keys(LOCALES).sort()).toEqual(expect.arrayContaining(["en", "zh"]));
    const keys = Object.keys(LOCALES.en).sort();
    for (const [code, messages] of Object.entries(LOCALES)) {
      expect(Object.keys(messages).sort(), code).toEqual(keys);
      expect(messages._name, code).toBeTruthy();
    }
  });
  it("keeps the placeholders of every message in every language", () => {
    const names = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const [code, messages] of Object.entries(LOCALES))
      for (const [key, text] of Object.entries(messages)) expect(names(text), `${code} ${key}`).toEqual(names(LOCALES.en[key]));
  });
  it("fills placeholders and falls back to English, then to the key", () => {
    const locales = { en: { hi: "Hello {name}", only: "English only" }, zh: { hi: "你好 {name}" } };
    expect(translate(locales, "zh", "hi", { name: "Ann" })).toBe("你好 Ann");
    expect(translate(locales, "zh", "only")).toBe("English only");
    expect(translate(locales, "zh", "missing.key")).toBe("missing.key");
    expect(format("{a} {b}", { a: 1 })).toBe("1 {b}");
  });
  it("picks the browser's language among those shipped", () => {
    expect(pickLocale(["zh-CN", "en"], ["en", "zh"])).toBe("zh");
    expect(pickLocale(["fr-FR", "de"], ["en", "zh"])).toBe("en");
    expect(pickLocale(["EN-gb"], ["en", "zh"])).toBe("en");
  });
  it("names the four tabs as LightRAG users know them", () => {
    expect(["documents", "graph", "retrieval", "api"].map((id) => LOCALES.en[`tab.${id}`])).toEqual(["Documents", "Knowledge Graph", "Retrieval", "API"]);
  });
});
