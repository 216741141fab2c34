// pipeline view: filled in by its module.
export async function board(root, ctx) {
  root.append(ctx.el("p", { class: "muted" }, ctx.t("Nothing here yet.")));
}

