/* Print pages: the Print and Back buttons (no inline script, for the CSP). */
document.addEventListener("DOMContentLoaded", function () {
  var button = document.querySelector("[data-mq-print]");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
  var back = document.querySelector("[data-mq-back]");
  if (back) { back.addEventListener("click", function (e) { e.preventDefault(); history.back(); }); }
});
