/* The layout (minqing/base.html): the menu's groups open and close, the menu collapses to
 * icons (remembered in this browser) or, on a phone, slides in as a drawer; list tables become
 * cards on a phone; a list's main actions join its title. No inline scripts (CSP). */
(function ($) {
  "use strict";
  var PHONE = 767;
  var KEY = "minqing.menu.collapsed";

  function phone() { return window.innerWidth <= PHONE; }

  function store(value) {
    try { window.localStorage.setItem(KEY, value ? "1" : "0"); } catch (e) { /* private mode */ }
  }

  function stored() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }

  function setDrawer(open) {
    $("body").toggleClass("mq-drawer-open", open);
    $("#mq-menu-toggle").attr("aria-expanded", open ? "true" : "false");
  }

  // each value of a list table carries its column's title, shown before it on a card
  function cards(root) {
    $(root).find(".table-responsive > table.table").each(function () {
      var $table = $(this);
      var $head = $table.children("thead");
      if ($table.hasClass("mq-cards") || $table.hasClass("mq-no-cards") || $head.find("tr").length !== 1) { return; }
      var titles = $head.find("tr > th").map(function () { return $.trim($(this).text()); }).get();
      $table.children("tbody").children("tr").each(function () {
        $(this).children("td").each(function (i) {
          var $td = $(this);
          if (titles[i]) { $td.attr("data-label", titles[i]); }
          if (!$.trim($td.text()) && !$td.find("a, input, button, i").length) { $td.addClass("mq-card-empty"); }
        });
      });
      $table.addClass("mq-cards");
    });
  }

  // a list page: 新增 and 导出Excel on the title's line
  function headActions() {
    $(".mq-content .panel-primary").each(function () {
      var $panel = $(this);
      var $heading = $panel.children(".panel-heading");
      var $body = $panel.children(".panel-body");
      var $add = $body.find("> div > .well a.btn-primary[href*='/add']").first();
      var $export = $body.find(".mq-list-tools a").first();
      if (!$heading.length || (!$add.length && !$export.length)) { return; }
      var $actions = $("<div class='mq-head-actions'></div>").appendTo($heading);
      if ($add.length) {
        $add.removeAttr("data-toggle").removeAttr("rel");
        $add.find(".sr-only").removeClass("sr-only");
        $add.appendTo($actions);
      }
      if ($export.length) {
        $export.closest(".mq-list-tools").remove();
        $export.appendTo($actions);
      }
    });
  }

  $(function () {
    if (stored() && !phone()) { $("body").addClass("mq-collapsed"); }
    $("#mq-menu-toggle").on("click", function () {
      if (phone()) {
        setDrawer(!$("body").hasClass("mq-drawer-open"));
      } else {
        $("body").toggleClass("mq-collapsed");
        store($("body").hasClass("mq-collapsed"));
      }
    });
    $("#mq-backdrop").on("click", function () { setDrawer(false); });
    $(document).on("keydown", function (event) {
      if (event.key === "Escape") { setDrawer(false); }
    });
    $("#mq-sidebar").on("click", ".mq-group-toggle", function (event) {
      event.preventDefault();
      var $group = $(this).parent();
      $group.toggleClass("mq-open");
      $(this).attr("aria-expanded", $group.hasClass("mq-open") ? "true" : "false");
    });
    headActions();
    cards(document);
  });
})(jQuery);
