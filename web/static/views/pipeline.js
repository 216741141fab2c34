// Pipeline: the board by stage, the win rate and the funnel as bars, a stage's opportunities,
// an opportunity's card with its timeline, and the goals with their progress and pace. Every
// figure is core's, sent as text by the server: nothing here computes or formats money.

const query = (params) => new URLSearchParams(params).toString();

// The period picked on the board: kept while the member opens a stage or a card and comes back.
let boardPeriod = "";

/** A screen that reloads itself in place; a refusal keeps what is shown and says why. */
async function reloading(root, ctx, asked, load, draw) {
  const body = ctx.el("div", { class: "pipeline" });
  root.append(body);
  async function show(change) {
    const next = { ...asked, ...change };
    const answer = await ctx.api(load(next));
    Object.assign(asked, next);
    body.replaceChildren(draw(answer, pick));
  }
  const pick = (change) => ctx.attempt(() => show(change));
  await show({});
}

/** The periods to pick (this month … this year), and a box for any other. */
function periodPicker(ctx, shown, pick, extra) {
  const { el, t } = ctx;
  const choices = [...(extra || []), ...shown.periods];
  const offered = choices.some((choice) => choice.current);
  const typed = el("input", { type: "text", name: "period", maxlength: "16",
    autocomplete: "off", placeholder: t("2026-11, 2026-Q4 or 2026"),
    "aria-label": t("Another period"), value: offered ? "" : (shown.period || "") });
  return el("div", { class: "choices" },
    el("div", { class: "chips" }, choices.map((choice) => el("button", {
      type: "button", class: "btn secondary", "aria-pressed": String(choice.current),
      dataset: { period: choice.period }, onclick: () => pick({ period: choice.period }),
    }, choice.label))),
    el("form", { class: "typed", onsubmit: (event) => {
      event.preventDefault();
      pick({ period: typed.value.trim() });
    } }, typed, el("button", { type: "submit", class: "btn" }, t("Show"))));
}

/** A bar as long as `width` percent of its track. */
function bar(ctx, width, kind) {
  const fill = ctx.el("div", { class: `fill${kind ? ` ${kind}` : ""}` });
  fill.style.width = `${width}%`;
  return ctx.el("div", { class: "track" }, fill);
}

function pager(ctx, page, pages, go, labels) {
  const { el, t } = ctx;
  if (pages < 2 && page === 0) return null;
  return el("div", { class: "pager" },
    el("button", { type: "button", class: "btn secondary", disabled: page <= 0,
      "aria-label": t(labels[0]), onclick: () => go(page - 1) }, "◀"),
    el("span", { class: "small" }, `${page + 1}/${pages}`),
    el("button", { type: "button", class: "btn secondary", disabled: page >= pages - 1,
      "aria-label": t(labels[1]), onclick: () => go(page + 1) }, "▶"));
}

// The board --------------------------------------------------------------------------------

/** The Pipeline tab: the stages with counts and amounts, win rate, funnel, people. */
export async function board(root, ctx) {
  await reloading(root, ctx, { period: boardPeriod },
    (asked) => `pipeline?${query({ period: asked.period })}`,
    (shown, pick) => {
      boardPeriod = shown.period;
      return boardScreen(ctx, shown, pick);
    });
}

function boardScreen(ctx, shown, pick) {
  const { el, t } = ctx;
  const screen = document.createDocumentFragment();
  screen.append(
    el("h2", { class: "title" }, shown.title),
    el("p", { class: "scope muted small" }, shown.scope),
    periodPicker(ctx, shown, pick),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "btn secondary",
        onclick: () => ctx.open("opportunities", opportunities, {}) }, t("All opportunities")),
      el("button", { type: "button", class: "btn secondary",
        onclick: () => ctx.open("goals", goals, {}) }, t("Goals"))),
    stageTable(ctx, shown),
    winRate(ctx, shown.win_rate),
    funnel(ctx, shown.funnel));
  if (shown.days) screen.append(el("p", { class: "days muted small" }, shown.days));
  if (shown.people.length) screen.append(people(ctx, shown.people));
  return screen;
}

function stageTable(ctx, shown) {
  const { el, t } = ctx;
  const rows = document.createDocumentFragment();
  for (const stage of shown.stages) {
    rows.append(el("button", {
      type: "button", class: `stage ${stage.outcome || "open"}`, dataset: { stage: stage.key },
      onclick: () => ctx.open("opportunities", opportunities, { stage: stage.key }),
    }, el("span", { class: "name" }, stage.name),
    el("span", { class: "count" }, String(stage.count)),
    el("span", { class: "amount" }, stage.amount_text),
    el("span", { class: "weighted" }, stage.weighted_text)));
  }
  const total = shown.open;
  return el("section", { class: "stages card" },
    el("div", { class: "stage head small muted" }, el("span", { class: "name" }, t("Stage")),
      el("span", { class: "count" }, "#"), el("span", { class: "amount" }, t("Amount")),
      el("span", { class: "weighted" }, t("Weighted"))),
    rows,
    el("div", { class: "stage total" }, el("span", { class: "name" }, t("Open")),
      el("span", { class: "count" }, String(total.count)),
      el("span", { class: "amount" }, total.amount_text),
      el("span", { class: "weighted" }, total.weighted_text)));
}

function winRate(ctx, rate) {
  const { el, t } = ctx;
  return el("section", { class: "win-rate card bars" },
    el("h3", {}, t("Win rate")),
    bar(ctx, rate.rate === null ? 0 : Number(rate.rate), "won"),
    el("p", { class: "text small" }, rate.text));
}

function funnel(ctx, steps) {
  const { el, t } = ctx;
  const rows = document.createDocumentFragment();
  for (const step of steps) {
    const fill = el("div", { class: `fill${step.won ? " won" : ""}` });
    fill.style.width = `${step.width}%`;
    rows.append(el("div", { class: "step" },
      el("span", { class: "label" }, step.name),
      el("div", { class: "track" }, fill),
      el("span", { class: "text" }, step.text)));
  }
  return el("section", { class: "funnel card" }, el("h3", {}, t("Funnel")), rows);
}

function people(ctx, list) {
  const { el, t } = ctx;
  const rows = document.createDocumentFragment();
  for (const person of list) {
    rows.append(el("tr", {},
      el("td", { class: "name" }, person.name),
      el("td", { class: "num" }, String(person.count)),
      el("td", { class: "num" }, person.amount_text),
      el("td", { class: "num" }, person.weighted_text)));
  }
  return el("section", { class: "people card" },
    el("h3", {}, t("Per person (open: count · amount · weighted)")),
    el("table", {}, el("tbody", {}, rows)));
}

// A stage's opportunities -------------------------------------------------------------------

/** The member's opportunities at a stage (or all), searched, page by page. */
export async function opportunities(root, ctx, params) {
  await reloading(root, ctx, { stage: params.stage || "", search: "", page: 0 },
    (asked) => `opportunities?${query(asked)}`,
    (shown, pick) => listScreen(ctx, shown, pick));
}

function listScreen(ctx, shown, pick) {
  const { el, t } = ctx;
  const screen = document.createDocumentFragment();
  const stages = [{ key: "", name: t("All opportunities") }, ...shown.stages];
  const letters = el("input", { type: "search", name: "search", maxlength: "50",
    autocomplete: "off", "aria-label": t("Search customers and titles"),
    placeholder: t("Search customers and titles"), value: shown.search || "" });
  screen.append(
    el("h2", { class: "title" }, shown.title),
    el("form", { class: "typed", onsubmit: (event) => {
      event.preventDefault();
      pick({ search: letters.value.trim(), stage: "", page: 0 });
    } }, letters, el("button", { type: "submit", class: "btn" }, t("Show"))),
    el("div", { class: "chips stage-chips" }, stages.map((stage) => el("button", {
      type: "button", class: "btn secondary",
      "aria-pressed": String(!shown.search && (shown.stage || "") === stage.key),
      onclick: () => pick({ stage: stage.key, search: "", page: 0 }),
    }, stage.name))));
  if (shown.empty) screen.append(el("p", { class: "muted" }, shown.empty));
  const items = document.createDocumentFragment();
  for (const item of shown.items) {
    items.append(el("button", {
      type: "button", class: `opp card${item.overdue ? " overdue" : ""}`,
      dataset: { id: String(item.id) },
      onclick: () => ctx.open("card", card, { id: item.id }),
    }, el("span", { class: "name" }, item.overdue ? `⚠️ ${item.title}` : item.title),
    el("span", { class: "customer" }, item.customer),
    el("span", { class: "line small muted" },
      [item.amount_text, item.stage, item.close, item.owner && `👤 ${item.owner}`]
        .filter(Boolean).join(" · "))));
  }
  screen.append(el("div", { class: "opps" }, items));
  if (shown.overdue_note) screen.append(el("p", { class: "small muted" }, shown.overdue_note));
  const turn = pager(ctx, shown.page, shown.pages, (page) => pick({ page }),
    ["Previous page", "Next page"]);
  if (turn) screen.append(turn);
  return screen;
}

// The card ----------------------------------------------------------------------------------

/** One opportunity: its facts, the photos of its visits, its timeline page by page. */
export async function card(root, ctx, params) {
  await reloading(root, ctx, { page: 0 },
    (asked) => `opportunities/${params.id}?${query(asked)}`,
    (shown, pick) => cardScreen(ctx, shown, pick));
}

function mapLink(ctx, url) {
  if (!/^https:\/\//.test(url)) return null;
  return ctx.el("a", { href: url, target: "_blank", rel: "noopener noreferrer",
    onclick: (event) => {
      // Inside Telegram a link opens in its browser, not in the Mini App's view.
      const app = window.Telegram && window.Telegram.WebApp;
      if (app && app.initData && app.openLink) {
        event.preventDefault();
        app.openLink(url);
      }
    } }, ctx.t("map"));
}

function cardScreen(ctx, shown, pick) {
  const { el, t } = ctx;
  const screen = document.createDocumentFragment();
  screen.append(
    el("h2", { class: "title" }, shown.title),
    el("p", {}, el("span", { class: `pill ${shown.stage.outcome || "open"}` }, shown.stage.name)),
    el("div", { class: "facts card" }, shown.facts.map((fact) => el("p", {}, fact))));
  if (shown.photos_label) {
    const album = el("div", { class: "photos" });
    const button = el("button", { type: "button", class: "btn secondary photos-button",
      onclick: async () => {
        ctx.clearProblem();
        button.disabled = true;
        try {
          const answer = await ctx.api(`opportunities/${shown.id}/photos`);
          album.replaceChildren(...answer.photos.map((photo) => el("figure", {},
            el("img", { src: photo.src, alt: photo.caption }),
            el("figcaption", { class: "small muted" }, photo.caption))));
          if (answer.empty) album.replaceChildren(el("p", { class: "muted" }, answer.empty));
          button.remove();
        } catch (error) {
          button.disabled = false;
          ctx.showProblem(error);
        }
      } }, shown.photos_label);
    screen.append(button, album);
  }
  const heading = [t("Timeline (newest first)"), shown.page_label].filter(Boolean).join(" ");
  const entries = document.createDocumentFragment();
  for (const entry of shown.timeline) {
    entries.append(el("li", { class: `entry${entry.flagged ? " flagged" : ""}`,
      dataset: { kind: entry.kind } },
      el("span", { class: "when small muted" }, `${entry.when} · ${entry.who}`),
      el("span", { class: "text" }, entry.text,
        entry.map ? [" · ", mapLink(ctx, entry.map)] : null)));
  }
  screen.append(el("h3", { class: "timeline-title" }, heading),
    el("ol", { class: "timeline" }, entries));
  const turn = [];
  if (shown.page > 0) {
    turn.push(el("button", { type: "button", class: "btn secondary",
      onclick: () => pick({ page: shown.page - 1 }) }, t("◀ Newer")));
  }
  if (shown.has_more) {
    turn.push(el("button", { type: "button", class: "btn secondary",
      onclick: () => pick({ page: shown.page + 1 }) }, t("Older ▶")));
  }
  if (turn.length) screen.append(el("div", { class: "pager" }, turn));
  return screen;
}

// Goals -------------------------------------------------------------------------------------

/** My goals and my team's, with progress bars and the pace still needed. */
export async function goals(root, ctx) {
  await reloading(root, ctx, { period: "" },
    (asked) => `goals?${query({ period: asked.period })}`,
    (shown, pick) => goalsScreen(ctx, shown, pick));
}

function goalList(ctx, lines, kind) {
  const { el } = ctx;
  const list = document.createDocumentFragment();
  for (const line of lines) {
    const state = line.reached ? "reached" : (line.ceiling && line.percent < 100 ? "over" : "");
    list.append(el("li", { class: `goal bar-row ${state}`.trim(), dataset: { metric: line.metric } },
      el("div", { class: "row" }, el("span", { class: "label grow" }, line.label),
        el("span", { class: "percent" }, `${line.percent}%`)),
      bar(ctx, line.width, state),
      el("div", { class: "figures small" }, line.figures),
      el("div", { class: "pace small muted" }, line.pace)));
  }
  return el("ul", { class: `goals bars ${kind}` }, list);
}

function goalsScreen(ctx, shown, pick) {
  const { el, t } = ctx;
  const now = { key: "now", label: t("Now"), period: "", current: shown.period === null };
  const screen = document.createDocumentFragment();
  screen.append(el("h2", { class: "title" }, t("Goals")),
    periodPicker(ctx, shown, pick, [now]),
    el("h3", {}, `🎯 ${t("My goals")}`),
    shown.mine.length ? goalList(ctx, shown.mine, "mine")
      : el("p", { class: "muted" }, shown.empty_mine));
  if (shown.is_manager) {
    screen.append(el("h3", {}, `👥 ${t("Team goals, furthest along first")}`),
      shown.team.length ? goalList(ctx, shown.team, "team")
        : el("p", { class: "muted" }, shown.empty_team));
  }
  return screen;
}
