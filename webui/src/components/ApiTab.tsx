import { useApi } from "../context";
import { t } from "../i18n";

export function ApiTab() {
  const api = useApi();
  return (
    <div class="api-tab stack">
      <p>{t("api.intro")}</p>
      <ul class="links">
        <li><a href={api.url("docs")} target="_blank" rel="noopener">{t("api.swagger")}</a></li>
        <li><a href={api.url("redoc")} target="_blank" rel="noopener">{t("api.redoc")}</a></li>
        <li><a href={api.url("openapi.json")} target="_blank" rel="noopener">openapi.json</a></li>
      </ul>
      <p class="muted">{t("api.base", { url: api.base })}</p>
      <iframe title={t("api.swagger")} src={api.url("docs")} loading="lazy" class="docs-frame" />
    </div>
  );
}
