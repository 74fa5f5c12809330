// Accessibility fix-ups for markup the Sphinx extensions emit (checked by axe-core in the site
// tests). sphinxcontrib-bibtex marks the bibliography as role="list" whose children are
// role="doc-biblioentry"; axe requires a list's children to be list items.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll('.citation-list[role="list"] > .citation').forEach(function (el) {
    el.setAttribute("role", "listitem");
  });
});
