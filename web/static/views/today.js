// today view: filled in by its module.
export async function team(root, ctx) {
  root.append(ctx.el("p", { class: "muted" }, ctx.t("Nothing here yet.")));
}

export async function mine(root, ctx) {
  root.append(ctx.el("p", { class: "muted" }, ctx.t("Nothing here yet.")));
}

