import { render } from "preact";
import { Api, Session } from "./api";
import { App } from "./App";
import { initLocale } from "./i18n";
import { initTheme } from "./theme";
import "./styles.css";

initLocale();
initTheme();
// The API is the folder above /webui/ (with any stage or prefix in front of it).
const api = new Api(new Session(window.localStorage), new URL("../", document.baseURI).toString());
render(<App api={api} />, document.getElementById("app")!);
