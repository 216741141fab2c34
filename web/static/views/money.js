// money view: filled in by its module.
export async function budgets(root, ctx) {
  root.append(ctx.el("p", { class: "muted" }, ctx.t("Nothing here yet.")));
}

