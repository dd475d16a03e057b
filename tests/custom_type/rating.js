// The rating type's own script, served from its folder: shows the chosen rating beside the
// legend, and marks the page so the browser test can see the script ran under the CSP.
(function () {
  "use strict";
  document.documentElement.dataset.ratingScript = "loaded";
  var shown = document.querySelector("[data-rating-chosen]");
  if (!shown) return;
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input && input.name === "rating") shown.textContent = String(Number(input.value) + 1);
  });
})();
