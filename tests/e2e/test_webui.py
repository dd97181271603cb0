"""The web UI in headless Chromium against a running server with the fake LLM.

Every check goes through what a person sees: roles, labels and text. Each test opens its
own workspace (set in the browser's storage before the page loads), so tests share one
server and one browser but no data. Screenshots of each tab go to docs/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lambdarag.api.app import create_app
from tests.e2e.browser import SCREENSHOTS, VIEWPORT, chromium, require_browser
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, serve
from tests.functional.corpus import CORPUS, wait_for

pytestmark = pytest.mark.timeout(180)
PASSWORD = "correct-horse-battery"
API_KEY = "webui-test-key-" + "k" * 24
TIMEOUT = 45_000  # ms: how long an expectation waits for the UI (a loaded CI machine)


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - playwright's Browser
    require_browser()
    with chromium() as launched:
        yield launched


def running(tmp_path_factory: pytest.TempPathFactory, fake: FakeLLMServer, name: str,
            **overrides: object) -> Iterator[str]:
    """A server of its own (fake LLM, embedded storage) for a module's tests."""
    settings = fake_settings(tmp_path_factory.mktemp(name), fake, **overrides)
    with serve(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           fake_llm_session: FakeLLMServer) -> Iterator[str]:
    yield from running(tmp_path_factory, fake_llm_session, "webui")


def index(base: str, workspace: str, docs: dict[str, str]) -> None:
    """Insert ``docs`` into ``workspace`` through the API and wait until processed."""
    headers = {"LIGHTRAG-WORKSPACE": workspace}
    for name, text in docs.items():
        reply = httpx.post(f"{base}/documents/text", headers=headers,
                           json={"text": text, "file_source": name})
        assert reply.status_code == 200, reply.text

    def done() -> bool:
        counts = httpx.get(f"{base}/documents/status_counts", headers=headers).json()
        return counts["status_counts"].get("processed", 0) >= len(docs)

    wait_for(done, timeout=60)


def open_page(browser, base: str, workspace: str, tab: str = "documents"):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", color_scheme="light")
    context.add_init_script(f"localStorage.setItem('lambdarag.workspace', '{workspace}')")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.goto(f"{base}/webui/#/{tab}")
    page.errors = errors  # checked at the end of each test
    return page


def shot(page, name: str) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def done(page) -> None:  # noqa: ANN001
    assert not page.errors, page.errors
    page.context.close()


def expect(locator):  # noqa: ANN001, ANN201
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def graph_of(page, name: str) -> None:  # noqa: ANN001
    """Search ``name`` with the autocomplete and draw its neighbourhood."""
    page.get_by_role("tab", name="Knowledge Graph").click()
    search = page.get_by_role("combobox", name="Search entities")
    search.fill(name[:4])
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"around {name}")).to_be_visible(timeout=TIMEOUT)


# ---------------------------------------------------------------------- tests


def test_upload_reaches_processed_without_reload(browser, server: str, tmp_path: Path) -> None:  # noqa: ANN001
    page = open_page(browser, server, "e2e_upload")
    page.evaluate("window.__sameDocument = true")
    files = {name.replace(".txt", ".md"): f"# {name}\n\n{text}\n" for name, text in CORPUS.items()}
    # WHEN two files are dropped on the drop zone, and a third is chosen with the file picker
    dropped = page.evaluate_handle("""(files) => { const data = new DataTransfer();
        for (const [name, text] of files) data.items.add(new File([text], name, {type: 'text/markdown'}));
        return data; }""", [[n, t] for n, t in files.items() if n != "jones.md"])
    zone = page.get_by_role("button", name="Drop files here or click to upload")
    zone.dispatch_event("dragover", {"dataTransfer": dropped})
    zone.dispatch_event("drop", {"dataTransfer": dropped})
    (tmp_path / "jones.md").write_text(files["jones.md"])
    page.get_by_label("Choose files to upload").set_input_files(str(tmp_path / "jones.md"))
    # THEN each has its own progress bar, and each row reaches Processed with no reload
    expect(page.get_by_role("progressbar", name="Upload of acme.md")).to_be_visible()
    table = page.get_by_role("table", name="Documents")
    for name in ("acme.md", "berlin.md", "jones.md"):
        row = table.get_by_role("row").filter(has=page.get_by_role("button", name=name, exact=True))
        expect(row.get_by_text("Processed", exact=True)).to_be_visible(timeout=TIMEOUT)
    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_role("button", name=re.compile(r"^Processed \(3\)"))).to_be_visible()
    # AND a row opens the document's details; chunks are listed
    expect(table.get_by_role("row").nth(1).get_by_role("cell").nth(3)).to_have_text("1")
    shot(page, "documents")
    # AND sorting by file name puts acme.md first
    page.get_by_role("button", name=re.compile("^File")).click()
    page.get_by_role("button", name=re.compile("^File")).click()
    expect(table.get_by_role("row").nth(1)).to_contain_text("acme.md")
    done(page)


def test_an_upload_can_pick_its_chunking_strategy(browser, server: str, tmp_path: Path) -> None:  # noqa: ANN001
    page = open_page(browser, server, "e2e_chunking")
    # WHEN a person picks recursive chunking and chooses a file
    page.get_by_role("combobox", name="Chunking", exact=True).select_option(
        label="Recursive: whole paragraphs and lines")
    (tmp_path / "paras.md").write_text("First paragraph about cranes.\n\nSecond one about crews.\n")
    page.get_by_label("Choose files to upload").set_input_files(str(tmp_path / "paras.md"))
    # THEN the document keeps its name, and its details say how it was chunked
    table = page.get_by_role("table", name="Documents")
    row = table.get_by_role("row").filter(has=page.get_by_role("button", name="paras.md", exact=True))
    expect(row.get_by_text("Processed", exact=True)).to_be_visible(timeout=TIMEOUT)
    row.get_by_role("button", name="paras.md", exact=True).click()
    details = page.get_by_role("dialog", name="paras.md")
    expect(details).to_contain_text('"chunk_method": "recursive_character"')
    done(page)


def test_failed_document_shows_its_error_is_retried_and_deleted(
        browser, server: str, fake_llm_session: FakeLLMServer) -> None:  # noqa: ANN001
    headers = {"LIGHTRAG-WORKSPACE": "e2e_failed"}
    fake_llm_session.fail_next(50, status=500)  # the LLM is down while the document indexes
    try:
        httpx.post(f"{server}/documents/text", headers=headers,
                   json={"text": "Alice Smith lives in Paris.", "file_source": "fine.txt"})
        wait_for(lambda: httpx.get(f"{server}/documents/status_counts", headers=headers)
                 .json()["status_counts"].get("failed"), timeout=60)
    finally:
        fake_llm_session.reset()
    page = open_page(browser, server, "e2e_failed")
    # THEN the failed row says why, in words
    row = page.get_by_role("row").filter(has_text="fine.txt")
    expect(row.get_by_text("Failed", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(row.get_by_role("cell").nth(5)).to_contain_text("500")
    page.get_by_role("button", name="Failed (1)", exact=True).click()
    expect(page.get_by_role("table", name="Documents").get_by_role("row")).to_have_count(2)
    # WHEN it is retried with the LLM back THEN it reaches Processed without a reload
    page.get_by_role("button", name="Retry failed (1)").click()
    page.get_by_role("button", name=re.compile(r"^All \(")).click()
    expect(row.get_by_text("Processed", exact=True)).to_be_visible(timeout=TIMEOUT)
    # AND it can be deleted
    row.get_by_role("button", name="Delete fine.txt").click()
    dialog = page.get_by_role("dialog", name="Delete documents")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No documents here yet")).to_be_visible(timeout=TIMEOUT)
    done(page)


def test_delete_while_indexing_runs(browser, server: str, fake_llm_session: FakeLLMServer) -> None:  # noqa: ANN001
    headers = {"LIGHTRAG-WORKSPACE": "e2e_busy"}
    fake_llm_session.chat_delay = 2.5  # slow extraction: the pipeline stays busy for a while
    try:
        page = open_page(browser, server, "e2e_busy")
        for name in ("slow.txt", "other.txt"):
            reply = httpx.post(f"{server}/documents/text", headers=headers, json={
                "text": f"Alice Smith wrote {name} in Berlin. Bob Jones read it in Rome.",
                "file_source": name})
            assert reply.status_code == 200
        # THEN the pipeline panel shows the running job, live
        pipeline = page.get_by_role("region", name="Pipeline")
        expect(pipeline.get_by_text("Indexing", exact=True)).to_be_visible(timeout=TIMEOUT)
        expect(pipeline.get_by_role("button", name="Cancel")).to_be_visible()
        # WHEN a document is deleted while it is being indexed
        row = page.get_by_role("row").filter(has_text="slow.txt")
        expect(row).to_be_visible(timeout=TIMEOUT)
        row.get_by_role("button", name="Delete slow.txt").click()
        page.get_by_role("dialog", name="Delete documents").get_by_role("button", name="Delete").click()
        # THEN it leaves the table and the other one still reaches Processed
        expect(page.get_by_role("row").filter(has_text="slow.txt")).to_have_count(0, timeout=TIMEOUT)
        other = page.get_by_role("row").filter(has_text="other.txt")
        expect(other.get_by_text("Processed", exact=True)).to_be_visible(timeout=TIMEOUT)
        done(page)
    finally:
        fake_llm_session.chat_delay = 0.0


def test_search_draws_the_neighbourhood_and_edits_an_entity(browser, server: str) -> None:  # noqa: ANN001
    index(server, "e2e_graph", CORPUS)
    page = open_page(browser, server, "e2e_graph", tab="graph")
    # the start view: the most connected entities, drawn
    expect(page.get_by_role("list", name="Most connected entities")
           .get_by_role("button", name="Acme Corp")).to_be_visible(timeout=TIMEOUT)
    # WHEN an entity is searched and picked
    graph_of(page, "Acme Corp")
    # THEN its neighbourhood is drawn and its properties are shown
    status = page.get_by_role("status").filter(has_text="around Acme Corp")
    assert int(re.search(r"(\d+) entities", status.inner_text()).group(1)) >= 4
    canvas = page.get_by_role("img", name="Knowledge graph drawing")
    wait_for(lambda: int(canvas.get_attribute("data-renders") or 0) > 0, timeout=10)
    panel = page.get_by_role("complementary").filter(has=page.get_by_role("heading", name="Entity"))
    expect(panel.get_by_role("heading", name="Acme Corp")).to_be_visible()
    expect(page.get_by_role("list", name="Entity types")).to_contain_text("organization")
    page.wait_for_timeout(1500)  # let the layout settle for the screenshot
    shot(page, "graph")
    # WHEN the entity is edited
    panel.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit entity")
    dialog.get_by_label("Description").fill("Acme Corp makes weather satellites (edited in the UI).")
    dialog.get_by_label("Type").fill("company")
    dialog.get_by_role("button", name="Save").click()
    # THEN the properties show the change
    expect(panel.get_by_text("edited in the UI")).to_be_visible(timeout=TIMEOUT)
    expect(panel.get_by_role("definition").filter(has_text=re.compile("^company$"))).to_be_visible()
    # AND a relation of the entity opens its own properties
    panel.get_by_text(re.compile(r"^Relations \(\d+\)")).click()
    panel.get_by_role("list", name="Relations of Acme Corp").get_by_role(
        "button", name="Acme Corp — Berlin").click()
    relation = page.get_by_role("complementary").filter(has=page.get_by_role("heading", name="Relation"))
    expect(relation.get_by_role("heading", name="Acme Corp — Berlin")).to_be_visible()
    expect(relation).to_contain_text("Berlin")
    # AND the shown subgraph exports as GraphML
    with page.expect_download() as download:
        page.get_by_role("button", name="GraphML").click()
    text = Path(download.value.path()).read_text()
    assert '<node id="Acme Corp">' in text and "edited in the UI" in text
    done(page)


def test_merge_two_entities(browser, server: str) -> None:  # noqa: ANN001
    headers = {"LIGHTRAG-WORKSPACE": "e2e_merge"}
    for name in ("Helios Satellite", "Helios Sat"):
        reply = httpx.post(f"{server}/graph/entity/create", headers=headers, json={
            "entity_name": name, "entity_data": {"entity_type": "product",
                                                 "description": f"{name} watches the weather."}})
        assert reply.status_code == 200, reply.text
    httpx.post(f"{server}/graph/relation/create", headers=headers, json={
        "source_entity": "Helios Sat", "target_entity": "Helios Satellite",
        "relation_data": {"description": "the same probe", "keywords": "alias"}})
    page = open_page(browser, server, "e2e_merge", tab="graph")
    graph_of(page, "Helios Satellite")
    page.get_by_role("button", name="Merge into this…").click()
    dialog = page.get_by_role("dialog", name="Merge entities into Helios Satellite")
    dialog.get_by_role("combobox", name="Entity to merge").fill("Helios S")
    dialog.get_by_role("option", name="Helios Sat", exact=True).click()
    expect(dialog.get_by_role("list", name="Entities to merge")).to_have_text(re.compile("Helios Sat"))
    dialog.get_by_role("button", name="Merge").click()
    expect(page.get_by_role("status").filter(has_text="Merged")).to_be_visible(timeout=TIMEOUT)
    # THEN only the target is left
    expect(page.get_by_role("status").filter(has_text="1 entities and 0 relations around Helios Satellite")).to_be_visible(timeout=TIMEOUT)
    search = page.get_by_role("combobox", name="Search entities")
    search.fill("Helios")
    expect(page.get_by_role("option", name="Helios Satellite", exact=True)).to_be_visible()
    expect(page.get_by_role("option", name="Helios Sat", exact=True)).to_have_count(0)
    done(page)


def test_streamed_answer_whose_reference_opens_the_chunk(browser, server: str) -> None:  # noqa: ANN001
    index(server, "e2e_query", {"acme.txt": CORPUS["acme.txt"]})
    page = open_page(browser, server, "e2e_query", tab="retrieval")
    question = page.get_by_role("textbox", name="Question")
    question.fill("Who founded Acme Corp?")
    with page.expect_response(lambda r: r.url.endswith("/query/stream")) as streamed:
        question.press("Enter")
    assert streamed.value.headers["content-type"].startswith("application/x-ndjson")
    answer = page.get_by_role("article", name="Answer")
    expect(answer).to_contain_text("Answer from context", timeout=TIMEOUT)
    reference = answer.get_by_role("button", name=re.compile(r"^\[1\] acme\.txt"))
    expect(reference).to_be_visible()
    shot(page, "retrieval")
    reference.click()
    chunk = page.get_by_role("dialog", name=re.compile(r"acme\.txt"))
    expect(chunk.get_by_role("region", name="Chunk 1")).to_contain_text("Alice Smith founded Acme Corp in Berlin")
    chunk.get_by_role("button", name="Close").click()
    # the "retrieved" view: what the answer was built from
    page.get_by_role("button", name="Show what was retrieved").click()
    retrieved = page.get_by_role("dialog", name=re.compile("^Retrieved for"))
    entities = retrieved.get_by_role("table", name="Entities")
    expect(entities).to_contain_text("Acme Corp", timeout=TIMEOUT)
    expect(entities.get_by_role("cell", name=re.compile(r"^rank \d+$")).first).to_be_visible()
    retrieved.get_by_role("button", name=re.compile(r"^Chunks \(\d+\)")).click()
    chunks = retrieved.get_by_role("table", name="Chunks")
    expect(chunks).to_contain_text("acme.txt")
    expect(chunks.get_by_role("cell", name=re.compile(r"^score \d\.\d{3}$")).first).to_be_visible()
    retrieved.get_by_role("button", name=re.compile(r"^Entities \(\d+\)")).click()
    shot(page, "retrieved")
    retrieved.get_by_role("button", name="Close").click()
    # the conversation is kept in the browser
    page.reload()
    expect(page.get_by_role("article", name="Question")).to_have_text("Who founded Acme Corp?")
    done(page)


def test_switching_workspace_shows_only_its_documents(browser, server: str) -> None:  # noqa: ANN001
    index(server, "e2e_team_a", {"alpha.txt": "Alice Smith works in Oslo."})
    index(server, "e2e_team_b", {"beta.txt": "Bob Jones works in Rome."})
    page = open_page(browser, server, "e2e_team_a")
    table = page.get_by_role("table", name="Documents")
    expect(table).to_contain_text("alpha.txt", timeout=TIMEOUT)
    expect(table).not_to_contain_text("beta.txt")
    # WHEN another workspace is opened by name
    page.get_by_label("Workspace").select_option(label="New workspace…")
    page.get_by_role("textbox", name="New workspace name").fill("e2e_team_b")
    page.get_by_role("button", name="Open").click()
    # THEN only its documents are listed
    expect(table).to_contain_text("beta.txt", timeout=TIMEOUT)
    expect(table).not_to_contain_text("alpha.txt")
    # AND an invalid name is refused in words
    page.get_by_label("Workspace").select_option(label="New workspace…")
    page.get_by_role("textbox", name="New workspace name").fill("bad-name")
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("alert").filter(has_text="1 to 64 letters")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    # AND switching back lists the first workspace's documents again
    page.get_by_label("Workspace").select_option("e2e_team_a")
    expect(table).to_contain_text("alpha.txt", timeout=TIMEOUT)
    page.get_by_role("tab", name="API").click()
    expect(page.get_by_role("link", name=re.compile("Swagger UI"))).to_have_attribute("href", f"{server}/docs")
    page.wait_for_timeout(1500)
    shot(page, "api")
    done(page)


def test_api_errors_are_shown_in_words(browser, server: str) -> None:  # noqa: ANN001
    page = open_page(browser, server, "e2e_errors", tab="graph")
    page.get_by_role("button", name="New relation").click()
    dialog = page.get_by_role("dialog", name="New relation")
    dialog.get_by_label("Source entity").fill("Nobody Here")
    dialog.get_by_label("Target entity").fill("Nowhere Either")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Nobody Here", timeout=TIMEOUT)
    done(page)


def test_chinese_and_dark_theme(browser, server: str) -> None:  # noqa: ANN001
    index(server, "e2e_zh", {"acme.txt": CORPUS["acme.txt"]})
    page = open_page(browser, server, "e2e_zh", tab="graph")
    page.get_by_role("button", name="Dark theme").click()
    page.get_by_label("Language").select_option("zh")
    expect(page.get_by_role("button", name="深色主题")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("tab", name="知识图谱")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="文档")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    expect(page.get_by_role("status").filter(has_text="个实体")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(2000)
    shot(page, "graph-dark-zh")
    done(page)


# ---------------------------------------------------------------------- login


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory,
                fake_llm_session: FakeLLMServer) -> Iterator[str]:
    yield from running(tmp_path_factory, fake_llm_session, "webui-auth",
                       auth_accounts=f"alice:{PASSWORD},bob:{PASSWORD}", token_secret="t" * 48,
                       auth_account_workspaces="bob:legal|hr", whitelist_paths="/health")


def test_login_with_auth_on(browser, auth_server: str) -> None:  # noqa: ANN001
    page = open_page(browser, auth_server, "")
    form = page.get_by_role("form", name="Log in to LambdaRAG")
    expect(form).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("tab")).to_have_count(0)
    form.get_by_label("Username").fill("alice")
    form.get_by_label("Password").fill("wrong")
    form.get_by_role("button", name="Log in").click()
    expect(form.get_by_role("alert")).to_have_text("Incorrect credentials")
    shot(page, "login")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Signed in as alice")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("table", name="Documents")).to_be_visible()
    # the token survives a reload; logging out brings the form back
    page.reload()
    expect(page.get_by_text("Signed in as alice")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("form", name="Log in to LambdaRAG")).to_be_visible()
    # a stale token (e.g. after TOKEN_SECRET changed) sends the person back to the form
    page.evaluate("localStorage.setItem('lambdarag.token', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJ1c2VyIn0.bad')")
    page.reload()
    expect(page.get_by_role("form", name="Log in to LambdaRAG")).to_be_visible(timeout=TIMEOUT)
    done(page)


@pytest.fixture(scope="module")
def key_server(tmp_path_factory: pytest.TempPathFactory,
               fake_llm_session: FakeLLMServer) -> Iterator[str]:
    yield from running(tmp_path_factory, fake_llm_session, "webui-key", lightrag_api_key=API_KEY)


def test_api_key_is_asked_for_and_sent(browser, key_server: str) -> None:  # noqa: ANN001
    page = open_page(browser, key_server, "")
    form = page.get_by_role("form", name="API key required")
    expect(form).to_be_visible(timeout=TIMEOUT)
    expect(form.get_by_role("alert")).to_have_text("API Key required")
    form.get_by_label("API key").fill("wrong-key")
    form.get_by_role("button", name="Use this key").click()
    expect(form.get_by_role("alert")).to_have_text("Invalid API Key", timeout=TIMEOUT)
    form.get_by_label("API key").fill(API_KEY)
    form.get_by_role("button", name="Use this key").click()
    expect(page.get_by_role("table", name="Documents")).to_contain_text("No documents", timeout=TIMEOUT)
    page.get_by_role("button", name="Forget API key").click()
    expect(page.get_by_role("form", name="API key required")).to_be_visible()
    done(page)


def test_an_account_limited_to_some_workspaces_is_offered_those(browser, auth_server: str) -> None:  # noqa: ANN001
    page = open_page(browser, auth_server, "")
    form = page.get_by_role("form", name="Log in to LambdaRAG")
    form.get_by_label("Username").fill("bob")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Signed in as bob")).to_be_visible(timeout=TIMEOUT)
    options = page.get_by_label("Workspace").locator("option")
    expect(options).to_have_text(["(default)", "legal", "hr", "New workspace…"])
    page.get_by_label("Workspace").select_option("hr")
    expect(page.get_by_role("table", name="Documents")).to_contain_text("No documents", timeout=TIMEOUT)
    done(page)


def test_a_stale_guest_token_is_replaced(browser, server: str) -> None:  # noqa: ANN001
    # GIVEN a guest token the server no longer accepts (e.g. signed before a restart with
    # another secret) WHEN the page loads without accounts configured
    stale = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJndWVzdCIsInJvbGUiOiJndWVzdCIsImV4cCI6NDEwMjQ0NDgwMH0.bad"
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(f"localStorage.setItem('lambdarag.token', '{stale}')")
    page = context.new_page()
    page.goto(f"{server}/webui/")
    # THEN the refusal is shown in words, a fresh guest token replaces it, and the list loads
    expect(page.get_by_role("alert").filter(has_text="Invalid token")).to_be_visible(timeout=TIMEOUT)
    wait_for(lambda: page.evaluate("localStorage.getItem('lambdarag.token')") not in (None, stale),
             timeout=20)
    expect(page.get_by_text("Page 1 of 1")).to_be_visible(timeout=TIMEOUT)
    context.close()
