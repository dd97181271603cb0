// Messages per language: one JSON file each in locales/ (add a file to add a language).
// Missing keys fall back to English; {name} placeholders are filled from ``vars``.

type Messages = Record<string, string>;

const files = import.meta.glob<{ default: Messages }>("./locales/*.json", { eager: true });
export const LOCALES: Record<string, Messages> = Object.fromEntries(
  Object.entries(files).map(([path, mod]) => [path.replace(/^.*\/(.*)\.json$/, "$1"), mod.default]),
);
const FALLBACK = "en";
const KEY = "lambdarag.locale";

let current = FALLBACK;

export function format(template: string, vars: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function translate(locales: Record<string, Messages>, locale: string, key: string, vars?: Record<string, string | number>): string {
  const template = locales[locale]?.[key] ?? locales[FALLBACK]?.[key] ?? key;
  return format(template, vars);
}

export function t(key: string, vars?: Record<string, string | number>): string {
  return translate(LOCALES, current, key, vars);
}

/** The best locale for the browser's languages, among those shipped. */
export function pickLocale(wanted: readonly string[], available: readonly string[]): string {
  for (const tag of wanted) {
    const lower = tag.toLowerCase();
    const exact = available.find((a) => a.toLowerCase() === lower);
    if (exact) return exact;
    const base = available.find((a) => a.toLowerCase() === lower.split("-")[0]);
    if (base) return base;
  }
  return FALLBACK;
}

export function initLocale(): string {
  const saved = localStorage.getItem(KEY);
  current = saved && LOCALES[saved] ? saved : pickLocale(navigator.languages ?? [navigator.language], Object.keys(LOCALES));
  document.documentElement.lang = current;
  return current;
}

export function setLocale(locale: string): void {
  if (!LOCALES[locale]) return;
  current = locale;
  localStorage.setItem(KEY, locale);
  document.documentElement.lang = locale;
}

export function locale(): string {
  return current;
}
