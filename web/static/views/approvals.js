// approvals view: filled in by its module.
export async function queue(root, ctx) {
  root.append(ctx.el("p", { class: "muted" }, ctx.t("Nothing here yet.")));
}

export async function mine(root, ctx) {
  root.append(ctx.el("p", { class: "muted" }, ctx.t("Nothing here yet.")));
}

