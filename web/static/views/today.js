// Today: everyone below the manager with plan / check-ins / log and the week's execution,
// today's check-ins and their customers' sites on a map, and a person's month and days; the
// rep's own day and month under "My day". Marks, rates and words come from the server as
// core computed them: the page lays them out, filters and searches.

// What the Today list was narrowed to, kept while the member opens people and comes Back.
const narrowed = { department: "", search: "" };
// The month the rep's own calendar was turned to.
const own = { month: "" };

const yesNo = (value) => (value ? "✅" : "❌");

/** The Today tab: the team's people, flagged first, with a filter, a search and a map. */
export async function team(root, ctx) {
  const today = await ctx.api("today");
  const { el, t } = ctx;
  const section = el("section", { class: "today-view" },
    el("h2", {}, today.title),
    el("p", { class: "small muted" }, today.legend));
  root.append(section);
  if (today.empty) {
    section.append(el("p", { class: "muted" }, today.empty));
    return;
  }
  const openPerson = (id) => ctx.open("month", personMonth, { member: id, month: today.month });
  const names = new Map(today.rows.map((row) => [row.id, row.name]));
  const departments = new Map(today.departments.map((d) => [d.id, d]));
  const map = teamMap(ctx, today, names, openPerson);
  const count = el("p", { class: "small muted count" });
  const nobody = el("p", { class: "muted nobody", hidden: true }, t("Nobody here matches."));
  const rows = today.rows.map((row) => ({
    row, key: row.name.toLocaleLowerCase(),
    node: personRow(ctx, row, today.departments.length > 1
      ? departments.get(row.department) : null, openPerson),
  }));

  function apply() {
    const within = narrowed.department && departments.get(Number(narrowed.department));
    const allowed = within ? new Set(within.within) : null;
    const needle = narrowed.search.trim().toLocaleLowerCase();
    const shown = new Set();
    for (const { row, key, node } of rows) {
      node.hidden = Boolean((allowed && !allowed.has(row.department))
        || (needle && !key.includes(needle)));
      if (!node.hidden) shown.add(row.id);
    }
    count.textContent = t("Shown: {shown} of {total}", { shown: shown.size, total: rows.length });
    nobody.hidden = shown.size > 0;
    if (map) map.show(shown);
  }

  section.append(filters(ctx, today.departments, apply));
  if (map) section.append(map.node);
  else if (!today.check_ins.length) {
    section.append(el("p", { class: "muted" }, t("No check-ins today yet.")));
  }
  const list = document.createDocumentFragment();
  for (const { node } of rows) list.append(node);
  section.append(count, el("div", { class: "people" }, list), nobody);
  if (today.flag_note) section.append(el("p", { class: "small flag" }, today.flag_note));
  if (today.hint) section.append(el("p", { class: "small muted" }, today.hint));
  apply();
}

function filters(ctx, departments, apply) {
  const { el, t } = ctx;
  if (!departments.some((d) => String(d.id) === narrowed.department)) narrowed.department = "";
  const box = el("div", { class: departments.length > 1 ? "filters" : "filters single" });
  if (departments.length > 1) {
    box.append(el("select", {
      name: "department", "aria-label": t("Department"),
      onchange: (event) => { narrowed.department = event.target.value; apply(); },
    }, el("option", { value: "" }, t("All departments")),
    departments.map((d) => el("option", {
      value: d.id, selected: String(d.id) === narrowed.department,
    }, "\u00a0\u00a0".repeat(d.depth) + d.name))));
  }
  box.append(el("input", {
    type: "search", name: "search", value: narrowed.search, maxlength: "100",
    autocomplete: "off", placeholder: t("Search by name"), "aria-label": t("Search by name"),
    oninput: (event) => { narrowed.search = event.target.value; apply(); },
  }));
  return box;
}

function personRow(ctx, row, department, openPerson) {
  const { el, t } = ctx;
  const visits = [`${t("Check-ins")} ${row.check_ins}`];
  if (row.flagged) visits.push(el("span", { class: "flag" }, " ⚠"));
  return el("button", {
    type: "button", class: row.flagged ? "card person flagged" : "card person",
    dataset: { member: row.id }, onclick: () => openPerson(row.id),
  },
  el("span", { class: "row" },
    el("span", { class: "name grow" }, row.name),
    el("span", { class: "week" }, row.week)),
  el("span", { class: "small marks" },
    `${t("Plan")} ${yesNo(row.planned)} · `, visits, ` · ${t("Log")} ${yesNo(row.logged)}`),
  department ? el("span", { class: "small muted department" }, department.name) : null);
}

/** The map of today's check-ins (red when flagged) over their customers' sites: none when
 *  the server names no tiles. Tiles that cannot load leave the area empty, nothing more. */
function teamMap(ctx, today, names, openPerson) {
  const { el, t } = ctx;
  const tiles = ctx.me.tiles;
  if (!tiles.url || typeof window.L === "undefined") return null;
  if (!today.check_ins.length && !today.sites.length) return null;
  const L = window.L;
  const area = el("div", { class: "map", role: "region",
    "aria-label": t("Map of today's check-ins and customer sites") });
  // The attribution as text under the map: Leaflet's own control writes it as HTML.
  const node = el("div", { class: "map-box" }, area,
    tiles.attribution ? el("p", { class: "small muted attribution" }, tiles.attribution) : null);
  const colour = (name) => getComputedStyle(document.documentElement)
    .getPropertyValue(name).trim();
  let map = null;
  let visits = null;
  let shown = null;

  const popup = (visit) => el("div", { class: "today-popup" },
    el("div", { class: "name" }, names.get(visit.member) || ""),
    el("div", { class: "small" }, `${visit.time} · ${visit.place}`),
    visit.flags ? el("div", { class: "small flag" }, `⚠ ${visit.flags}`) : null,
    el("button", { type: "button", class: "btn secondary",
      onclick: () => openPerson(visit.member) }, t("Open the calendar")));

  function draw() {
    visits.clearLayers();
    const ok = colour("--ok");
    const danger = colour("--danger");
    for (const visit of today.check_ins) {
      if (shown && !shown.has(visit.member)) continue;
      L.circleMarker([visit.lat, visit.lon], {
        radius: 7, weight: 2, color: visit.flags ? danger : ok, fillOpacity: 0.85,
      }).bindPopup(() => popup(visit)).addTo(visits);
    }
  }

  function start() {
    // Canvas draws thousands of points at once where one element each would not keep up.
    map = L.map(area, { preferCanvas: true, attributionControl: false });
    L.tileLayer(tiles.url, { maxZoom: 19 }).addTo(map);
    const link = colour("--link");
    const bounds = L.latLngBounds([]);
    for (const site of today.sites) {
      const centre = L.latLng(site.lat, site.lon);
      bounds.extend(centre.toBounds(2 * site.radius));
      L.circle(centre, { radius: site.radius, weight: 1, color: link, fillOpacity: 0.12 })
        .bindTooltip(() => el("span", {}, site.name)).addTo(map);
    }
    for (const visit of today.check_ins) bounds.extend([visit.lat, visit.lon]);
    visits = L.featureGroup().addTo(map);
    draw();
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
  }

  // Leaflet measures its box: it starts once the screen is on the page and has a size, and
  // lets go of the map when the screen is left.
  const sizes = new ResizeObserver(() => {
    if (map && !area.isConnected) {
      sizes.disconnect();
      map.remove();
      map = null;
    } else if (area.isConnected && area.clientWidth) {
      if (map) map.invalidateSize();
      else start();
    }
  });
  sizes.observe(area);

  let drawing = false;
  return {
    node,
    show(members) {
      shown = members;
      if (!map || drawing) return;
      // Typing redraws once a frame, however fast the letters come.
      drawing = true;
      requestAnimationFrame(() => {
        drawing = false;
        if (map) draw();
      });
    },
  };
}

/** A person's month, opened from Today (params: member, month). */
async function personMonth(root, ctx, params) {
  const view = await ctx.api(monthPath(params.member, params.month));
  // Back from a day returns to the month it was opened from.
  root.append(monthSection(ctx, view, params));
}

/** The "My day" tab: the rep's own today in full, then their month. */
export async function mine(root, ctx) {
  const id = ctx.me.member.id;
  const calendar = await ctx.api(monthPath(id, own.month));
  const today = await ctx.api(`people/${id}/days/${calendar.today}`);
  root.append(daySection(ctx, today), monthSection(ctx, calendar, own));
}

function monthPath(member, month) {
  return `people/${member}/month?${new URLSearchParams({ month: month || "" })}`;
}

/** A month as a grid of days with their marks; ◀ ▶ turn it in place (state.month keeps
 *  where it was turned to). */
function monthSection(ctx, view, state) {
  const { el, t } = ctx;
  const section = el("section", { class: "today-view calendar" });

  async function turn(month) {
    ctx.clearProblem();
    try {
      const next = await ctx.api(monthPath(view.member.id, month));
      section.replaceWith(monthSection(ctx, next, state));
    } catch (error) {
      ctx.showProblem(error);
    }
  }

  state.month = view.month;
  const openDay = (day) => ctx.open("day", personDay, { member: view.member.id, day });
  const grid = document.createDocumentFragment();
  for (const name of view.weekdays) grid.append(el("span", { class: "weekday small muted" }, name));
  for (let blank = 0; blank < view.lead; blank += 1) grid.append(el("span", {}));
  for (const day of view.days) {
    const classes = ["day"];
    if (day.day === view.today) classes.push("today");
    if (day.flagged) classes.push("flagged");
    if (!day.mark) classes.push("empty");
    grid.append(el("button", { type: "button", class: classes.join(" "),
      dataset: { day: day.day }, onclick: () => openDay(day.day) },
    el("span", { class: "n" }, String(day.n)),
    el("span", { class: "mark" }, day.mark)));
  }
  section.append(...[
    el("div", { class: "turn" },
      el("button", { type: "button", class: "btn secondary", "aria-label": t("Previous month"),
        disabled: !view.previous, onclick: () => turn(view.previous) }, "◀"),
      el("h2", { class: "grow" }, view.title),
      el("button", { type: "button", class: "btn secondary", "aria-label": t("Next month"),
        disabled: !view.next, onclick: () => turn(view.next) }, "▶")),
    view.note ? el("p", { class: "small warn note" }, view.note) : null,
    el("div", { class: "grid" }, grid),
    el("p", { class: "small muted legend" }, view.legend),
    el("p", { class: "small summary" }, view.summary),
    el("p", { class: "small muted" }, view.hint),
  ].filter(Boolean));
  return section;
}

/** One day of someone's calendar (params: member, day). */
async function personDay(root, ctx, params) {
  const view = await ctx.api(`people/${params.member}/days/${params.day}`);
  root.append(daySection(ctx, view));
}

function daySection(ctx, view) {
  const { el, t } = ctx;
  const section = el("section", { class: "today-view day", dataset: { day: view.day } },
    el("h2", {}, view.title));
  const plan = el("div", { class: "card plan" }, el("h3", {}, t("Plan")));
  if (view.plan.summary) plan.append(el("p", { class: "small" }, view.plan.summary));
  if (view.plan.empty) plan.append(el("p", { class: "muted" }, view.plan.empty));
  if (view.plan.items.length) {
    plan.append(el("ul", { class: "items" }, view.plan.items.map((item) => el("li", {},
      el("span", { class: "icon" }, item.icon), " ",
      item.time ? el("span", { class: "time" }, `${item.time} `) : null,
      el("span", { class: "text" }, item.text),
      item.customer ? el("span", { class: "muted" }, ` — ${item.customer}`) : null,
      item.moved ? el("span", { class: "small muted" }, ` ${item.moved}`) : null,
      item.verified ? el("span", { class: "small ok" }, ` ${item.verified}`) : null,
      item.note ? el("div", { class: "small muted note" }, item.note) : null))));
  }
  const log = el("div", { class: "card log" },
    el("h3", {}, t("Log"), view.log.amended ? el("span", { class: "small warn" },
      ` ${view.log.amended}`) : null));
  if (view.log.entries.length) {
    log.append(el("ul", { class: "entries" }, view.log.entries.map((entry) => el("li", {},
      entry.text, entry.customer ? el("span", { class: "muted" }, ` — ${entry.customer}`)
        : null))));
  }
  for (const line of [view.log.note, view.log.empty, view.log.rating]) {
    if (line) log.append(el("p", { class: line === view.log.empty ? "muted" : "" }, line));
  }
  const visits = el("div", { class: "card check-ins" }, el("h3", {}, t("Check-ins")));
  if (view.no_check_ins) visits.append(el("p", { class: "muted" }, view.no_check_ins));
  if (view.check_ins.length) {
    visits.append(el("ul", { class: "visits" }, view.check_ins.map((visit) => el("li", {
      class: visit.flags ? "flagged" : "" },
    `📍 ${visit.time} `, el("span", { class: "place" }, visit.place),
    visit.flags ? el("span", { class: "flag" }, ` ⚠ ${visit.flags}`) : null,
    " · ", el("a", { href: visit.map, target: "_blank", rel: "noopener noreferrer" }, t("map")),
    visit.photos ? ` · 📷 ${visit.photos}` : null))));
  }
  section.append(plan, log, visits);
  if (view.photos.length) section.append(photos(ctx, view.photos));
  return section;
}

/** The day's photos, each fetched with the sign-in (an <img> alone cannot send it). */
function photos(ctx, paths) {
  const { el, t } = ctx;
  const grid = el("div", { class: "photos" });
  paths.forEach((path, index) => {
    const slot = el("div", { class: "photo" });
    grid.append(slot);
    ctx.blob(path).then((url) => {
      const image = el("img", { src: url, alt: t("Photo {n}", { n: index + 1 }) });
      image.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
      slot.append(image);
    }, (error) => {
      slot.append(el("p", { class: "small muted" }, error.message));
    });
  });
  return el("div", { class: "card photo-list" },
    el("h3", {}, `${t("Photos")} (${paths.length})`), grid);
}
