const KEY = "lambdarag.theme";
export type Theme = "light" | "dark";

export function initTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  const theme: Theme = saved === "dark" || saved === "light" ? saved
    : window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  document.documentElement.dataset.theme = theme;
  return theme;
}

export const THEME_EVENT = "lambdarag-theme";

export function setTheme(theme: Theme): void {
  localStorage.setItem(KEY, theme);
  document.documentElement.dataset.theme = theme;
  window.dispatchEvent(new Event(THEME_EVENT));
}

export function currentTheme(): Theme {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}
