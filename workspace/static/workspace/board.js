// Drag and drop on the board: dropping a card in another column submits the
// card's own move form (the one keyboard and no-JavaScript users submit), so
// the server, the version check and the messages are the same either way.
// With htmx the answer replaces the page in place: the new columns are set up
// again when htmx has loaded them.
function setUpBoard(root) {
  if (!window.Sortable) {
    return;
  }
  for (const list of root.querySelectorAll(".board .cards")) {
    if (list.dataset.sortable) {
      continue;
    }
    list.dataset.sortable = "on";
    window.Sortable.create(list, {
      group: "board",
      draggable: ".card",
      filter: "a, button, select, input, summary, label",
      preventOnFilter: false,
      animation: 150,
      onAdd(event) {
        const stage = event.to.closest(".column").dataset.stage;
        const form = event.item.querySelector("form.move");
        const select = form.querySelector("select[name=stage]");
        select.value = stage;
        form.requestSubmit();
      },
    });
  }
}

document.addEventListener("DOMContentLoaded", () => setUpBoard(document));
document.addEventListener("htmx:load", (event) => setUpBoard(event.target));
