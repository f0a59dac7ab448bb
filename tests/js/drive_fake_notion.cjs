// Drives crashkit's loopback fake Notion with the official JavaScript SDK and prints what
// it saw as one JSON object; tests/integration/test_notion_js_sdk.py asserts on it.
//
// Usage: node drive_fake_notion.cjs BASE_URL TOKEN ROOT_PAGE_ID
//
// The test arms these faults before the run (so the requests named here must not be made
// anywhere else in this script):
//   GET /v1/pages/ROOT            one 429 with Retry-After: 1  -> retried after a second
//   GET /v1/blocks/ROOT           three 429s with Retry-After: 0 -> retries run out
//   GET /v1/blocks/ROOT/children  one 503                       -> retried (a GET)
//   PATCH /v1/blocks/ROOT         one 503                       -> not retried (a PATCH)
"use strict"

const {
  APIErrorCode,
  APIResponseError,
  Client,
  LogLevel,
  collectAllDataSourceRows,
  collectPaginatedAPI,
  isFullPage,
} = require("@notionhq/client")
const sdkPackage = require("@notionhq/client/package.json")

const [baseUrl, token, root] = process.argv.slice(2)
const options = {
  baseUrl,
  logLevel: LogLevel.ERROR,
  // Short back-off where no Retry-After is given, so the 503 retry stays fast.
  retry: { maxRetries: 2, initialRetryDelayMs: 20, maxRetryDelayMs: 5000 },
}
const notion = new Client({ ...options, auth: token })

const text = (content, extra = {}) => ({ type: "text", text: { content }, ...extra })
const paragraph = content => ({
  type: "paragraph",
  paragraph: { rich_text: [text(content)] },
})
const richView = items =>
  items.map(({ type, plain_text, href, annotations }) => ({
    type,
    plain_text,
    href,
    annotations,
  }))

/** What an SDK call threw: the fields an engine branches on. */
async function failure(call) {
  try {
    await call()
    return { threw: false }
  } catch (error) {
    return {
      threw: true,
      api_response_error: APIResponseError.isAPIResponseError(error),
      code: error.code,
      status: error.status,
      message: error.message,
      retry_after: error.headers?.get?.("retry-after") ?? null,
    }
  }
}

async function pages() {
  const title = [
    text("bold link", {
      text: { content: "bold link", link: { url: "https://example.com/a" } },
      annotations: { bold: true, color: "red" },
    }),
    text(" and plain"),
  ]
  const created = await notion.pages.create({
    parent: { page_id: root },
    properties: { title: { title } },
    icon: { type: "emoji", emoji: "📄" },
    children: [paragraph("first")],
  })
  const retrieved = await notion.pages.retrieve({ page_id: created.id })
  const renamed = await notion.pages.update({
    page_id: created.id,
    properties: { title: { title: [text("renamed")] } },
  })
  const trashed = await notion.pages.update({ page_id: created.id, in_trash: true })
  const editTrashed = await failure(() =>
    notion.pages.update({ page_id: created.id, properties: { title: { title: [text("x")] } } })
  )
  const restored = await notion.pages.update({ page_id: created.id, in_trash: false })
  const archived = await notion.pages.update({ page_id: created.id, archived: true })
  const unarchived = await notion.pages.update({ page_id: created.id, archived: false })
  return {
    page_id: created.id,
    full_page: isFullPage(created),
    parent: created.parent,
    icon: created.icon,
    title: richView(created.properties.title.title),
    retrieved_title: retrieved.properties.title.title.map(t => t.plain_text).join(""),
    retrieved_same_id: retrieved.id === created.id,
    renamed: renamed.properties.title.title.map(t => t.plain_text).join(""),
    trashed: { in_trash: trashed.in_trash, archived: trashed.archived },
    edit_trashed: editTrashed,
    restored: { in_trash: restored.in_trash, archived: restored.archived },
    archived: { in_trash: archived.in_trash, archived: archived.archived },
    unarchived: { in_trash: unarchived.in_trash, archived: unarchived.archived },
  }
}

async function blocks(pageId) {
  // 250 paragraphs in three requests (Notion takes at most 100 children per request).
  const texts = Array.from({ length: 250 }, (_, i) => `p${i}`)
  const appended = []
  for (let start = 0; start < texts.length; start += 100) {
    const answer = await notion.blocks.children.append({
      block_id: pageId,
      children: texts.slice(start, start + 100).map(paragraph),
    })
    appended.push(answer.results.length)
  }
  const listRequests = []
  let cursor
  do {
    const page = await notion.blocks.children.list({ block_id: pageId, start_cursor: cursor })
    listRequests.push(page.results.length)
    cursor = page.next_cursor ?? undefined
  } while (cursor)
  const all = await collectPaginatedAPI(notion.blocks.children.list, {
    block_id: pageId,
    page_size: 100,
  })

  const [toggle] = (
    await notion.blocks.children.append({
      block_id: pageId,
      children: [
        {
          type: "toggle",
          toggle: {
            rich_text: [text("toggle", { annotations: { italic: true, code: true } })],
            children: [paragraph("inside")],
          },
        },
      ],
    })
  ).results
  const sub = await notion.pages.create({
    parent: { page_id: pageId },
    properties: { title: { title: [text("Sub page")] } },
  })
  const appendChildPage = await failure(() =>
    notion.blocks.children.append({
      block_id: pageId,
      children: [{ type: "child_page", child_page: { title: "nope" } }],
    })
  )
  const tail = await collectPaginatedAPI(notion.blocks.children.list, { block_id: pageId })
  const subBlock = await notion.blocks.retrieve({ block_id: sub.id })
  const inside = await notion.blocks.children.list({ block_id: toggle.id })

  const first = all[0]
  const deleted = await notion.blocks.delete({ block_id: first.id })
  const afterDelete = await collectPaginatedAPI(notion.blocks.children.list, {
    block_id: pageId,
  })
  const pageBlock = await notion.blocks.retrieve({ block_id: pageId })
  return {
    appended,
    list_requests: listRequests,
    texts_in_order:
      JSON.stringify(all.map(b => b.paragraph.rich_text[0].plain_text)) ===
      JSON.stringify(["first", ...texts]),
    listed: all.length,
    toggle: {
      has_children: toggle.has_children,
      rich_text: richView(toggle.toggle.rich_text),
      inside: inside.results.map(b => b.paragraph.rich_text[0].plain_text),
    },
    paragraph_has_children: all[1].has_children,
    sub_page_block: tail
      .filter(b => b.type === "child_page")
      .map(b => ({ id: b.id === sub.id, title: b.child_page.title, has_children: b.has_children })),
    sub_page_retrieved: { type: subBlock.type, title: subBlock.child_page.title },
    append_child_page: appendChildPage,
    deleted: { in_trash: deleted.in_trash, archived: deleted.archived },
    after_delete: afterDelete.length,
    first_after_delete: afterDelete[0].paragraph.rich_text[0].plain_text,
    page_has_children: pageBlock.has_children,
    page_block_type: pageBlock.type,
  }
}

async function databases() {
  const database = await notion.databases.create({
    parent: { type: "page_id", page_id: root },
    title: [text("Tasks")],
    initial_data_source: {
      properties: {
        Name: { title: {} },
        Status: { select: { options: [{ name: "todo" }, { name: "done" }] } },
        Priority: { number: { format: "number" } },
        Done: { checkbox: {} },
        Due: { date: {} },
        Notes: { rich_text: {} },
        Tags: { multi_select: { options: [] } },
      },
    },
  })
  const retrievedDatabase = await notion.databases.retrieve({ database_id: database.id })
  const dataSourceId = retrievedDatabase.data_sources[0].id
  const source = await notion.dataSources.retrieve({ data_source_id: dataSourceId })

  const rows = []
  const specs = [
    ["write spec", "todo", 3, false, "2026-03-01"],
    ["fix crash", "todo", 5, false, "2026-02-01"],
    ["ship", "done", 1, true, "2026-04-01"],
    ["review", "todo", 2, false, null],
    ["plan", "done", 4, true, "2026-01-15"],
  ]
  for (const [name, status, priority, done, due] of specs) {
    rows.push(
      await notion.pages.create({
        parent: { type: "data_source_id", data_source_id: dataSourceId },
        properties: {
          Name: { title: [text(name)] },
          Status: { select: { name: status } },
          Priority: { number: priority },
          Done: { checkbox: done },
          Due: { date: due === null ? null : { start: due } },
          Notes: {
            rich_text: [
              text(`notes on ${name}`, {
                text: { content: `notes on ${name}`, link: { url: `https://example.com/${priority}` } },
                annotations: { underline: true },
              }),
            ],
          },
          Tags: { multi_select: priority > 2 ? [{ name: "big" }] : [] },
        },
      })
    )
  }
  const names = result => result.results.map(p => p.properties.Name.title[0].plain_text)
  const open = await notion.dataSources.query({
    data_source_id: dataSourceId,
    filter: {
      and: [
        { property: "Done", checkbox: { equals: false } },
        { property: "Priority", number: { greater_than_or_equal_to: 2 } },
      ],
    },
    sorts: [{ property: "Priority", direction: "descending" }],
  })
  const byDue = await notion.dataSources.query({
    data_source_id: dataSourceId,
    sorts: [{ property: "Due", direction: "ascending" }],
  })
  const either = await notion.dataSources.query({
    data_source_id: dataSourceId,
    filter: {
      or: [
        { property: "Name", title: { contains: "sh" } },
        { property: "Tags", multi_select: { contains: "big" } },
      ],
    },
    sorts: [{ property: "Name", direction: "ascending" }],
  })
  const dueBefore = await notion.dataSources.query({
    data_source_id: dataSourceId,
    filter: { property: "Due", date: { before: "2026-03-01" } },
    sorts: [{ timestamp: "created_time", direction: "descending" }],
  })
  const paged = await collectPaginatedAPI(notion.dataSources.query, {
    data_source_id: dataSourceId,
    page_size: 2,
  })
  const everyRow = await collectAllDataSourceRows(notion, { data_source_id: dataSourceId })

  const target = rows[1]
  const updated = await notion.pages.update({
    page_id: target.id,
    properties: { Done: { checkbox: true }, Status: { select: { name: "blocked" } } },
  })
  const trashedRow = await notion.pages.update({ page_id: rows[3].id, in_trash: true })
  const afterTrash = await notion.dataSources.query({ data_source_id: dataSourceId })
  const retrievedRow = await notion.pages.retrieve({ page_id: target.id })
  const sourceAfter = await notion.dataSources.retrieve({ data_source_id: dataSourceId })
  const databaseBlock = await notion.blocks.retrieve({ block_id: database.id })

  return {
    database: {
      object: database.object,
      title: database.title[0].plain_text,
      parent: database.parent,
      data_sources: database.data_sources.length,
      retrieved_data_sources: retrievedDatabase.data_sources,
    },
    data_source: {
      object: source.object,
      id: source.id,
      parent: source.parent,
      database_parent: source.database_parent,
      property_types: Object.fromEntries(
        Object.entries(source.properties).map(([name, config]) => [name, config.type])
      ),
      status_options: source.properties.Status.select.options.map(o => o.name),
    },
    row: {
      parent: rows[0].parent,
      property_types: Object.fromEntries(
        Object.entries(rows[0].properties).map(([name, value]) => [name, value.type])
      ),
      notes: richView(rows[0].properties.Notes.rich_text),
      status: rows[0].properties.Status.select.name,
      due: rows[0].properties.Due.date,
    },
    query_open: names(open),
    query_by_due: names(byDue),
    query_either: names(either),
    query_due_before: names(dueBefore),
    query_object: { object: open.object, type: open.type },
    paged: paged.map(p => p.properties.Name.title[0].plain_text),
    every_row: everyRow.length,
    updated: {
      done: updated.properties.Done.checkbox,
      status: updated.properties.Status.select.name,
      retrieved_done: retrievedRow.properties.Done.checkbox,
      name_kept: retrievedRow.properties.Name.title[0].plain_text,
    },
    status_options_after: sourceAfter.properties.Status.select.options.map(o => o.name),
    trashed_row: trashedRow.in_trash,
    after_trash: names(afterTrash),
    database_block: {
      type: databaseBlock.type,
      title: databaseBlock.child_database.title,
      has_children: databaseBlock.has_children,
    },
    unknown_property: await failure(() =>
      notion.pages.create({
        parent: { data_source_id: dataSourceId },
        properties: { Nope: { number: 1 } },
      })
    ),
    wrong_value: await failure(() =>
      notion.pages.create({
        parent: { data_source_id: dataSourceId },
        properties: { Priority: { number: "high" } },
      })
    ),
    unknown_filter_property: await failure(() =>
      notion.dataSources.query({
        data_source_id: dataSourceId,
        filter: { property: "Missing", checkbox: { equals: true } },
      })
    ),
  }
}

async function errors(pageId) {
  const missing = "0c0ffee0-0000-4000-8000-000000000000"
  const started = Date.now()
  const rateLimited = await notion.pages.retrieve({ page_id: root })
  const rateLimitedMs = Date.now() - started
  return {
    not_found: await failure(() => notion.pages.retrieve({ page_id: missing })),
    block_not_found: await failure(() => notion.blocks.children.list({ block_id: missing })),
    too_many_children: await failure(() =>
      notion.blocks.children.append({
        block_id: pageId,
        children: Array.from({ length: 101 }, (_, i) => paragraph(`x${i}`)),
      })
    ),
    text_too_long: await failure(() =>
      notion.blocks.children.append({
        block_id: pageId,
        children: [paragraph("y".repeat(2001))],
      })
    ),
    unauthorized: await failure(() =>
      new Client({ ...options, auth: "wrong-token" }).pages.retrieve({ page_id: pageId })
    ),
    rate_limited_then_served: { id: rateLimited.id === root, ms: rateLimitedMs },
    rate_limited_out_of_retries: await failure(() => notion.blocks.retrieve({ block_id: root })),
    unavailable_get_retried: (await notion.blocks.children.list({ block_id: root })).results.map(
      b => b.type
    ),
    unavailable_patch_not_retried: await failure(() =>
      notion.blocks.update({ block_id: root, archived: false })
    ),
  }
}

async function main() {
  const out = { sdk_version: sdkPackage.version, notion_version: Client.defaultNotionVersion }
  out.pages = await pages()
  out.blocks = await blocks(out.pages.page_id)
  out.databases = await databases()
  out.errors = await errors(out.pages.page_id)
  process.stdout.write(JSON.stringify(out) + "\n")
}

main().catch(error => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exit(1)
})
