// Approvals: the claims waiting for the member, the longest waiting first, approved with one
// tap, rejected with a reason, or approved several together; and the member's own claims with
// their state. Every sentence and amount about a claim comes from the server as text: the
// page computes nothing about money and decides nothing about rights.

// The server decides at most this many claims in one call.
const TOGETHER_MAX = 100;
const STATE_CLASSES = { pending: "warn", approved: "ok", rejected: "flag", withdrawn: "muted",
  draft: "muted" };

/** The Approvals tab: the queue, with a bar to approve the selected claims together. */
export async function queue(root, ctx) {
  const box = ctx.el("div", { class: "approvals" });
  root.append(box);
  drawQueue(box, ctx, await ctx.api("approvals"), null);
}

/** The queue anew from the server, with what just happened said above it. */
async function reloadQueue(box, ctx, notice) {
  try {
    drawQueue(box, ctx, await ctx.api("approvals"), notice);
  } catch (error) {
    ctx.showProblem(error);
  }
}

function drawQueue(box, ctx, answer, notice) {
  const { el, t } = ctx;
  const selected = new Map(); // claim id -> the version shown
  const shown = document.createDocumentFragment();
  if (notice) shown.append(noticeCard(el, notice));
  if (answer.empty) {
    shown.append(el("p", { class: "muted empty" }, answer.empty));
    box.replaceChildren(shown);
    return;
  }
  const together = el("button", { type: "button", class: "btn approve-together", disabled: true,
    onclick: () => approveTogether() }, t("Approve selected ({n})", { n: 0 }));
  const checks = [];
  const changed = () => {
    together.textContent = t("Approve selected ({n})", { n: selected.size });
    together.disabled = selected.size === 0;
  };
  const everyone = el("button", { type: "button", class: "btn secondary", onclick: () => {
    for (const check of checks) {
      if (selected.size >= TOGETHER_MAX) break;
      if (!check.disabled && !check.checked) {
        check.checked = true;
        check.dispatchEvent(new Event("change"));
      }
    }
  } }, t("Select all"));

  async function approveTogether() {
    together.disabled = true;
    ctx.clearProblem();
    const numbers = new Map(answer.claims.map((claim) => [claim.id, claim.number]));
    try {
      const done = await ctx.api("approvals/bulk", { method: "POST", body: {
        claims: [...selected].map(([id, version]) => ({ id, version })) } });
      await reloadQueue(box, ctx, { summary: done.summary, lines: done.outcomes.map((one) => ({
        ok: one.ok, text: `${numbers.get(one.id) || one.number}: ${one.ok ? one.said
          : one.message}` })) });
    } catch (error) {
      changed();
      ctx.showProblem(error);
    }
  }

  const lazy = lazyReceipts();
  const list = el("div", { class: "claims" });
  for (const claim of answer.claims) {
    list.append(queueCard(ctx, claim, answer.reason_max, {
      lazy, checks, selected, changed,
      refused: (error) => reloadQueue(box, ctx, { lines: [
        { ok: false, text: `${claim.number}: ${error.message}` }] }),
    }));
  }
  shown.append(list, el("div", { class: "together" }, everyone, together));
  box.replaceChildren(shown);
}

function noticeCard(el, notice) {
  return el("div", { class: "card notice", role: "status" },
    notice.summary ? el("div", { class: "name" }, notice.summary) : null,
    notice.lines.map((line) => el("div", { class: line.ok ? "small ok" : "small flag" },
      line.text)));
}

function queueCard(ctx, claim, reasonMax, { lazy, checks, selected, changed, refused }) {
  const { el, t } = ctx;
  const check = el("input", { type: "checkbox", onchange: () => {
    if (check.checked && selected.size >= TOGETHER_MAX) check.checked = false;
    if (check.checked) selected.set(claim.id, claim.version); else selected.delete(claim.id);
    changed();
  } });
  checks.push(check);
  const card = el("article", { class: "card claim", dataset: { claim: claim.id } });
  const pick = el("label", { class: "pick" }, check, t("Select"));
  const decided = () => {
    check.checked = false;
    check.disabled = true;
    pick.hidden = true;
    selected.delete(claim.id);
    changed();
  };
  card.append(
    pick,
    claimBody(ctx, claim),
    receiptsPreview(ctx, claim, lazy),
    decisionBox(ctx, claim, reasonMax, { decided, refused, details: () =>
      ctx.open("claim", claimScreen, { id: claim.id }) }),
  );
  return card;
}

/** What a claim's card shows, from the server's words. */
function claimBody(ctx, claim) {
  const { el } = ctx;
  const body = document.createDocumentFragment();
  body.append(
    el("div", { class: "row head" },
      el("span", { class: "grow name claimant" }, claim.claimant),
      el("span", { class: "amount" }, claim.amount)),
    el("div", { class: "small muted number" }, claim.number),
    el("div", { class: "what" }, claim.what),
  );
  if (claim.opportunity) body.append(el("div", { class: "small" }, claim.opportunity));
  if (claim.description) body.append(el("div", { class: "description" },
    `“${claim.description}”`));
  if (claim.duplicates) body.append(el("div", { class: "small flag duplicates" },
    claim.duplicates));
  if (claim.budgets.length) {
    body.append(el("div", { class: "bars budgets" }, claim.budgets.map((budget) => {
      const fill = el("div", { class: budget.over ? "fill over" : "fill" });
      fill.style.width = `${budget.width}%`;
      return el("div", { class: "bar-row budget" },
        el("div", { class: "small" }, `💰 ${budget.text}`),
        el("div", { class: "track" }, fill),
        budget.over ? el("div", { class: "small flag" }, budget.over) : null);
    })));
  }
  if (claim.escalated) body.append(el("div", { class: "small warn" }, claim.escalated));
  if (claim.step || claim.waiting_since) {
    body.append(el("div", { class: "small muted" },
      [claim.step, claim.waiting_since].filter(Boolean).join(" · ")));
  }
  if (claim.outcome) body.append(el("div", { class: "outcome" }, claim.outcome));
  body.append(route(ctx, claim.route));
  return body;
}

function route(ctx, steps) {
  const { el, t } = ctx;
  return el("details", { class: "route" }, el("summary", {}, t("Route")),
    el("ol", {}, steps.map((step) => el("li", { class: step.current ? "current" : null },
      `${step.mark} ${step.position}. ${step.who} — ${step.state}`
      + (step.decided ? ` (${step.decided})` : "") + (step.escalated ? " ⏫" : "")))));
}

/** Thumbnails fetched when their card comes into view: a long queue loads few pictures. */
function lazyReceipts() {
  if (!("IntersectionObserver" in window)) return { watch: (node, load) => load() };
  const waiting = new Map();
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      const load = waiting.get(entry.target);
      waiting.delete(entry.target);
      if (load) load();
    }
  }, { rootMargin: "200px 0px" });
  return { watch: (node, load) => { waiting.set(node, load); observer.observe(node); } };
}

function receiptImage(ctx, claim, n) {
  const { el, t } = ctx;
  const holder = el("div", { class: "receipt" });
  const load = async () => {
    try {
      const url = await ctx.blob(`claims/${claim.id}/receipts/${n}`);
      // A shown picture keeps its pixels: the object URL is let go once it has loaded.
      holder.replaceChildren(el("img", { src: url, alt: t("Receipt {n}", { n }),
        onload: () => URL.revokeObjectURL(url) }));
    } catch (error) {
      holder.replaceChildren(el("div", { class: "small muted" }, error.message));
    }
  };
  return { holder, load };
}

function receiptsPreview(ctx, claim, lazy) {
  const { el } = ctx;
  const box = el("div", { class: "receipts" }, el("div", { class: "small" }, claim.receipts_text));
  if (claim.receipts > 0) {
    const first = receiptImage(ctx, claim, 1);
    box.append(el("div", { class: "photos" }, first.holder));
    lazy.watch(first.holder, first.load);
  }
  return box;
}

/** Approve, Reject (asks the reason here) and Details; `decided(answer)` after a decision,
 * `refused(error)` for a refusal other than the reason's. */
function decisionBox(ctx, claim, reasonMax, { decided, refused, details }) {
  const { el, t } = ctx;
  const box = el("div", { class: "decide" });
  if (!claim.can_decide) {
    if (details) {
      box.append(el("div", { class: "actions" }, el("button", { type: "button",
        class: "btn secondary", onclick: details }, t("🔎 Details"))));
    }
    return box;
  }
  const buttons = [];
  const busy = (on) => { for (const button of buttons) button.disabled = on; };

  async function decide(action, body) {
    busy(true);
    ctx.clearProblem();
    try {
      const answer = await ctx.api(`claims/${claim.id}/${action}`, { method: "POST", body });
      box.replaceChildren(el("div", { class: "said ok", role: "status" }, answer.said));
      decided(answer);
    } catch (error) {
      busy(false);
      if (error.code === "reason_empty" || error.code === "reason_too_long") {
        reasonSaid.textContent = error.message;
      } else if (error.code && error.status) {
        refused(error);
      } else {
        ctx.showProblem(error);
      }
    }
  }

  const reason = el("textarea", { name: "reason", rows: "3", maxlength: String(reasonMax),
    "aria-label": t("Reason for rejecting"), placeholder: t("Reason for rejecting") });
  const reasonSaid = el("div", { class: "small flag", role: "alert" });
  const form = el("form", { class: "reason", hidden: true, onsubmit: (event) => {
    event.preventDefault();
    decide("reject", { version: claim.version, reason: reason.value });
  } },
  el("label", { class: "small" }, t("Reason for rejecting"), reason),
  reasonSaid,
  el("div", { class: "actions" },
    el("button", { type: "submit", class: "btn danger" }, t("❌ Reject")),
    el("button", { type: "button", class: "btn secondary", onclick: () => {
      form.hidden = true;
      actions.hidden = false;
    } }, t("Cancel"))));
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", class: "btn approve",
      onclick: () => decide("approve", { version: claim.version }) }, t("✅ Approve")),
    el("button", { type: "button", class: "btn secondary reject", onclick: () => {
      actions.hidden = true;
      form.hidden = false;
      reason.focus();
    } }, t("❌ Reject")),
    details ? el("button", { type: "button", class: "btn secondary", onclick: details },
      t("🔎 Details")) : null);
  buttons.push(...actions.querySelectorAll("button"), ...form.querySelectorAll("button"));
  box.append(actions, form);
  return box;
}

/** One claim: its card, every receipt, the route and the history; decided here too. */
export async function claimScreen(root, ctx, params) {
  const { el, t } = ctx;
  const claim = await ctx.api(`claims/${params.id}`);
  const screen = el("div", { class: "approvals claim-screen" });
  const again = (notice) => {
    screen.remove();
    return claimScreen(root, ctx, { id: params.id, notice }).catch(ctx.showProblem);
  };
  if (params.notice) screen.append(noticeCard(el, params.notice));
  const card = el("article", { class: "card claim", dataset: { claim: claim.id } },
    el("div", { class: `status ${STATE_CLASSES[claim.status] || ""}` },
      `${claim.icon} ${claim.status_text}`),
    claimBody(ctx, claim));
  const photos = el("div", { class: "photos" });
  const loads = [];
  for (let n = 1; n <= claim.receipts; n += 1) {
    const image = receiptImage(ctx, claim, n);
    photos.append(image.holder);
    loads.push(image.load);
  }
  card.append(el("div", { class: "receipts" },
    el("div", { class: "small" }, claim.receipts_text), photos));
  card.append(decisionBox(ctx, claim, claim.reason_max, {
    decided: (answer) => again({ lines: [{ ok: true, text: answer.said }] }),
    refused: (error) => again({ lines: [{ ok: false, text: error.message }] }),
  }));
  const history = el("ul", { class: "history small" }, claim.history.map((line) =>
    el("li", {}, `${line.when} · ${line.what} · ${line.who}`,
      line.reason ? el("div", { class: "muted" }, `“${line.reason}”`) : null)));
  screen.append(card, el("h2", {}, t("History")), history);
  root.append(screen);
  const details = card.querySelector("details.route");
  if (details) details.open = true;
  for (const load of loads) load(); // each says its own failure in its place
}

/** The My claims tab: every claim of mine with its state, a page at a time. */
export async function mine(root, ctx, params) {
  const { el } = ctx;
  const box = el("div", { class: "approvals mine" });
  root.append(box);
  async function show(page) {
    const answer = await ctx.api(`my-claims?page=${page}`);
    box.replaceChildren(myClaims(ctx, answer, (next) => show(next).catch(ctx.showProblem)));
  }
  await show((params && params.page) || 0);
}

function myClaims(ctx, answer, turn) {
  const { el } = ctx;
  const shown = document.createDocumentFragment();
  if (answer.empty) {
    shown.append(el("p", { class: "muted empty" }, answer.empty));
    return shown;
  }
  const list = el("div", { class: "claims" });
  for (const claim of answer.claims) {
    const line = [
      el("span", { class: "row" },
        el("span", { class: "grow name" }, `${claim.icon} ${claim.number}`),
        el("span", { class: "amount" }, claim.amount)),
      el("span", { class: "row small" },
        el("span", { class: "grow muted" }, claim.what),
        el("span", { class: `status ${STATE_CLASSES[claim.status] || ""}` }, claim.status_text)),
    ];
    list.append(claim.opens
      ? el("button", { type: "button", class: "card line", dataset: { claim: claim.id },
        onclick: () => ctx.open("claim", claimScreen, { id: claim.id }) }, line)
      : el("div", { class: "card line", dataset: { claim: claim.id } }, line));
  }
  shown.append(list);
  if (answer.pages > 1) {
    shown.append(el("div", { class: "pager" },
      el("button", { type: "button", class: "btn secondary", disabled: answer.page === 0,
        onclick: () => turn(answer.page - 1) }, "◀"),
      el("span", { class: "small" }, `${answer.page + 1}/${answer.pages}`),
      el("button", { type: "button", class: "btn secondary",
        disabled: answer.page + 1 >= answer.pages, onclick: () => turn(answer.page + 1) },
      "▶")));
  }
  return shown;
}
