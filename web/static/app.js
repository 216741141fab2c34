// The page's frame: sign-in by Telegram's init data, the member's words, tabs, and the helpers
// every view uses. Text only ever reaches the page as text nodes (el() below): nothing the
// server sends is parsed as HTML.

import * as approvals from "./views/approvals.js";
import * as money from "./views/money.js";
import * as pipeline from "./views/pipeline.js";
import * as today from "./views/today.js";

const API = "api";
const webApp = window.Telegram && window.Telegram.WebApp;
const initData = webApp ? webApp.initData : "";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let strings = {};

/** The member's words for an English text, with {name} filled in. */
export function t(message, values) {
  const text = strings[message] || message;
  return values ? text.replace(/\{(\w+)\}/g, (whole, key) =>
    (key in values ? String(values[key]) : whole)) : text;
}

/** An element with attributes (on* are listeners) and children (strings become text). */
export function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function call(path, options = {}) {
  const headers = { Authorization: `tma ${initData}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`${API}/${path}`, {
      method: options.method || "GET", headers, cache: "no-store",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (error) {
    throw new ApiError(0, "offline",
      t("Could not reach the server. Check your connection and try again."));
  }
  if (!response.ok) {
    let body = {};
    try { body = await response.json(); } catch (error) { /* not JSON: said below */ }
    throw new ApiError(response.status, body.error || "server_error", body.message
      || t("Sorry, something went wrong on our side. Please try again in a moment."));
  }
  return response;
}

/** JSON from the server, signed in; an ApiError carries the server's translated refusal. */
export async function api(path, options) {
  return (await call(path, options)).json();
}

/** A picture or a file from the server, as an object URL (an <img> cannot send init data). */
export async function blob(path) {
  return URL.createObjectURL(await (await call(path)).blob());
}

/** Saves a file from the server under its name. */
export async function download(path, filename) {
  const url = await blob(path);
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const problem = () => document.getElementById("problem");

/** Shows a refusal or failure above the view (a clear sentence, never a stack). */
export function showProblem(error) {
  const box = problem();
  box.textContent = error instanceof ApiError ? error.message
    : t("Sorry, something went wrong on our side. Please try again in a moment.");
  box.hidden = false;
}

export function clearProblem() {
  problem().hidden = true;
}

/** Runs a step the member asked for; a refusal shows above the view, which stays. */
export async function attempt(step) {
  clearProblem();
  try {
    return await step();
  } catch (error) {
    showProblem(error);
    return undefined;
  }
}

// Navigation: a tab, and screens opened from it (Back returns).
const stack = [];
let me = null;
let tabs = [];

function tabsFor(member) {
  const list = [];
  const finance = member.roles.includes("finance") || member.roles.includes("admin");
  if (member.oversees) list.push({ id: "today", label: "Today", render: today.team });
  if (member.oversees || finance) {
    list.push({ id: "approvals", label: "Approvals", render: approvals.queue });
    list.push({ id: "budgets", label: "Budgets", render: money.budgets });
  }
  if (!member.oversees) list.push({ id: "mine", label: "My day", render: today.mine });
  list.push({ id: "claims", label: "My claims", render: approvals.mine });
  list.push({ id: "pipeline", label: "Pipeline", render: pipeline.board });
  return list;
}

async function show(screen) {
  const view = document.getElementById("view");
  clearProblem();
  view.replaceChildren(el("p", { class: "muted" }, t("Loading…")));
  document.getElementById("back").hidden = stack.length < 2;
  if (webApp && webApp.BackButton) {
    if (stack.length > 1) webApp.BackButton.show(); else webApp.BackButton.hide();
  }
  const root = el("div", { class: "screen", dataset: { screen: screen.id } });
  try {
    await screen.render(root, context, screen.params || {});
    view.replaceChildren(root);
  } catch (error) {
    view.replaceChildren(el("button", { class: "btn secondary", type: "button",
      onclick: () => show(screen) }, t("Try again")));
    showProblem(error);
  }
}

/** Opens a screen on top of the current one: render(root, context, params). */
export function open(id, render, params) {
  const screen = { id, render, params };
  stack.push(screen);
  return show(screen);
}

export function back() {
  if (stack.length > 1) stack.pop();
  return show(stack[stack.length - 1]);
}

function select(tab) {
  stack.length = 0;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab.id));
  }
  return open(tab.id, tab.render);
}

/** Redraws the current screen (after a decision, say). */
export function refresh() {
  return show(stack[stack.length - 1]);
}

export const context = { api, blob, download, el, t, open, back, refresh, showProblem,
  clearProblem, attempt, get me() { return me; } };

function applyTheme() {
  const scheme = webApp && webApp.colorScheme === "dark" ? "dark" : "light";
  document.documentElement.dataset.scheme = scheme;
}

async function start() {
  if (webApp) {
    webApp.ready();
    webApp.expand();
    webApp.onEvent("themeChanged", applyTheme);
    if (webApp.BackButton) webApp.BackButton.onClick(back);
  }
  applyTheme();
  document.getElementById("back").addEventListener("click", back);
  try {
    me = await api("me");
  } catch (error) {
    document.getElementById("view").replaceChildren();
    showProblem(error);
    return;
  }
  strings = me.strings;
  document.documentElement.lang = me.language === "zh_Hans" ? "zh-Hans" : "en";
  document.title = `${t("Dashboard")} · ${me.org}`;
  document.getElementById("title").textContent = me.org;
  tabs = tabsFor(me);
  document.getElementById("tabs").replaceChildren(...tabs.map((tab) => el("button", {
    type: "button", role: "tab", dataset: { tab: tab.id }, onclick: () => select(tab),
  }, t(tab.label))));
  const wanted = new URLSearchParams(location.search).get("view");
  await select(tabs.find((tab) => tab.id === wanted) || tabs[0]);
}

start();
