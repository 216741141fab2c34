// Budgets and statistics: each budget's usage as a bar, the breakdowns of /stats as bars with
// the amounts core computed (as text, never recomputed here), and the claims as a file.

const MARKS = { department: "🏢", project: "📁", member: "👤" };

const query = (params) => new URLSearchParams(params).toString();

/** The Budgets tab: the period and status picked here apply to everything below them. */
export async function budgets(root, ctx) {
  const asked = { period: "", status: "committed", page: 0 };
  const body = ctx.el("div", { class: "money" });
  root.append(body);
  let latest = 0;
  let shownStats = null;

  async function show(change) {
    const ticket = ++latest;
    const next = { ...asked, ...change };
    // Turning a page of budgets changes nothing below them.
    const turning = Object.keys(change).every((key) => key === "page");
    let answers;
    try {
      answers = await load(ctx, next, turning ? shownStats : null);
    } catch (error) {
      if (ticket === latest) throw error;
      return;
    }
    // A later choice is on its way: its answer is the one shown.
    if (ticket !== latest) return;
    Object.assign(asked, next);
    shownStats = answers.stats;
    body.replaceChildren(screen(ctx, next, answers, pick));
  }

  // A choice on the screen: a refusal (a period core cannot read) keeps what is shown.
  const pick = (change) => ctx.attempt(() => show(change));

  await show({});
}

/** The budgets and the statistics (those already shown, when given) for a choice. */
async function load(ctx, asked, stats) {
  const [budgetsAnswer, statsAnswer] = await Promise.allSettled([
    ctx.api(`budgets?${query({ period: asked.period, page: asked.page })}`),
    stats || ctx.api(`stats?${query({ period: asked.period, status: asked.status })}`),
  ]);
  if (budgetsAnswer.status === "rejected") throw budgetsAnswer.reason;
  // Statistics are for managers and finance: anyone else sees why, under their budgets.
  const refused = statsAnswer.status === "rejected" ? statsAnswer.reason : null;
  if (refused && refused.status !== 403) throw refused;
  return { budgets: budgetsAnswer.value, stats: refused ? null : statsAnswer.value,
    refused };
}

function screen(ctx, asked, answers, pick) {
  const shown = document.createDocumentFragment();
  shown.append(
    choices(ctx, asked, answers.stats, pick),
    budgetList(ctx, answers.budgets, pick),
    answers.stats ? statistics(ctx, answers.stats)
      : ctx.el("p", { class: "card muted refused" }, answers.refused.message),
  );
  return shown;
}

function choices(ctx, asked, stats, pick) {
  const { el, t } = ctx;
  const box = el("div", { class: "choices" });
  if (stats) {
    box.append(el("div", { class: "chips" }, stats.periods.map((choice) => el("button", {
      type: "button", class: "btn secondary", "aria-pressed": String(choice.current),
      dataset: { period: choice.period },
      onclick: () => pick({ period: choice.period, page: 0 }),
    }, choice.label))));
  }
  // A period no button offers stays in the box it was typed in.
  const offered = stats && stats.periods.some((choice) => choice.current);
  const typed = el("input", { type: "text", name: "period", maxlength: "16",
    autocomplete: "off", placeholder: t("2026-11, 2026-Q4 or 2026"),
    "aria-label": t("Another period"),
    value: offered ? "" : (stats ? stats.period : asked.period) });
  box.append(el("form", { class: "typed", onsubmit: (event) => {
    event.preventDefault();
    pick({ period: typed.value.trim(), page: 0 });
  } }, typed, el("button", { type: "submit", class: "btn" }, t("Show"))));
  if (stats) {
    box.append(el("select", { name: "status", "aria-label": t("Claims to count"),
      onchange: (event) => pick({ status: event.target.value }) },
    stats.statuses.map((status) => el("option", { value: status.key,
      selected: status.current }, status.label))));
  }
  return box;
}

function bar(el, width, over) {
  const fill = el("div", { class: over ? "fill over" : "fill" });
  fill.style.width = `${width}%`;
  return el("div", { class: "track" }, fill);
}

function budgetList(ctx, overview, pick) {
  const { el, t } = ctx;
  const section = el("section", { class: "budgets" },
    el("h2", {}, overview.title),
    el("p", { class: "small muted" }, overview.note));
  if (overview.empty) section.append(el("p", { class: "muted" }, overview.empty));
  const rows = document.createDocumentFragment();
  for (const line of overview.lines) {
    rows.append(el("div", { class: "bar-row budget", dataset: { budget: line.id } },
      el("div", { class: "row" },
        el("span", { class: "name grow label" }, line.label),
        el("span", { class: line.over ? "percent flag" : "percent" }, `${line.percent}%`)),
      bar(el, line.width, Boolean(line.over)),
      el("div", { class: "small" },
        el("span", { class: "usage" }, line.usage), " · ",
        el("span", { class: "muted" }, line.policy)),
      line.over ? el("div", { class: "small flag over-by" }, line.over) : null));
  }
  section.append(el("div", { class: "bars" }, rows));
  if (overview.pages > 1) {
    const turn = (page) => () => pick({ page });
    section.append(el("div", { class: "pager" },
      el("button", { type: "button", class: "btn secondary", "aria-label": t("Previous page"),
        disabled: overview.page === 0, onclick: turn(overview.page - 1) }, "◀"),
      el("span", { class: "muted" }, `${overview.page + 1}/${overview.pages}`),
      el("button", { type: "button", class: "btn secondary", "aria-label": t("Next page"),
        disabled: overview.page + 1 >= overview.pages, onclick: turn(overview.page + 1) },
      "▶")));
  }
  if (overview.changes.length) {
    section.append(el("details", { class: "changes" },
      el("summary", {}, t("Last changes")),
      el("ul", { class: "small" }, overview.changes.map((text) => el("li", {}, text)))));
  }
  return section;
}

function statistics(ctx, stats) {
  const { el, t } = ctx;
  const section = el("section", { class: "stats", dataset: { period: stats.period } },
    el("h2", { class: "title" }, stats.title),
    el("p", { class: "small muted scope" }, stats.scope));
  if (stats.empty) {
    section.append(el("p", { class: "muted empty" }, stats.empty));
  } else {
    section.append(el("div", { class: "card row total" },
      el("span", { class: "name grow" }, stats.total.label),
      el("span", { class: "amount" }, stats.total.text),
      el("span", { class: "small muted count" }, t("Claims: {n}", { n: stats.total.count }))));
  }
  for (const breakdown of stats.sections) {
    const rows = document.createDocumentFragment();
    for (const line of breakdown.lines) {
      const mark = MARKS[line.kind];
      rows.append(el("div", { class: line.rest ? "bar-row line rest" : "bar-row line" },
        el("div", { class: "row" },
          el("span", { class: "name grow" },
            mark ? el("span", { class: "mark", "aria-hidden": "true" }, mark) : null,
            el("span", { class: "label" }, line.label)),
          el("span", { class: "amount" }, line.text)),
        bar(el, line.width, false),
        el("div", { class: "small muted count" }, t("Claims: {n}", { n: line.count }))));
    }
    section.append(el("div", { class: "card chart", dataset: { section: breakdown.key } },
      el("h3", {}, breakdown.title), el("div", { class: "bars" }, rows)));
  }
  section.append(el("div", { class: "exports", role: "group",
    "aria-label": t("Download the claims") }, stats.exports.map((file) => el("button", {
    type: "button", class: "btn", dataset: { file: file.filename },
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      ctx.clearProblem();
      try {
        await ctx.download(file.path, file.filename);
      } catch (error) {
        ctx.showProblem(error);
      } finally {
        button.disabled = false;
      }
    },
  }, file.label))));
  return section;
}
