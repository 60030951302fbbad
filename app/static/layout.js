/* The layout (minqing/base.html): the menu's groups open and close, the menu collapses to
 * icons (remembered in this browser) or, on a phone, slides in as a drawer; list tables become
 * cards on a phone; every page's main actions join its title. No inline scripts (CSP). */
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

  // the page's title line: a panel's heading (lists, records, forms, most custom pages) or the
  // page head of a page without a panel (dashboard, 我的工作 ...); one is made of its first <h2>
  function findTitleLine() {
    var $content = $(".mq-content");
    var $line = $content.find(".mq-page-head").first();
    if (!$line.length) { $line = $content.find(".panel-primary > .panel-heading").first(); }
    if (!$line.length) {
      var $title = $content.find("h2").first();
      if (!$title.length) { return $(); }
      $line = $("<div class='mq-page-head'></div>").insertBefore($title);
      $title.addClass("mq-title").appendTo($line);
    }
    return $line;
  }

  function asButton($btn) {
    $btn.removeAttr("data-toggle").removeAttr("rel");
    $btn.find(".sr-only").removeClass("sr-only");
    return $btn;
  }

  // every page: its title and main actions on one line — a list's 新增 and 导出Excel, a record's
  // 修改/删除/返回 and its toolbar (打印, 转为诉求 ...), a form's 保存 and 返回, a custom page's toolbar
  function titleLine() {
    var $line = findTitleLine();
    if (!$line.length) { return; }
    $line.addClass("mq-title-line");
    var $actions = $line.children(".mq-head-actions");
    if (!$actions.length) { $actions = $("<div class='mq-head-actions'></div>").appendTo($line); }
    var $panel = $line.parent(".panel-primary");
    var $body = $panel.children(".panel-body");
    // a list: 新增 and 导出Excel
    var $add = $body.find("> div > .well a.btn-primary[href*='/add']").first();
    if ($add.length) { asButton($add).appendTo($actions); }
    var $export = $body.find(".mq-list-tools a").first();
    if ($export.length) {
      $export.closest(".mq-list-tools").remove();
      $export.appendTo($actions);
    }
    // the page's toolbar of main actions (above or inside the panel)
    var $toolbar = $(".mq-content .mq-toolbar").first();
    if ($toolbar.length && !$toolbar.closest($line).length) {
      $toolbar.children("a.btn, .btn-group, form.mq-inline").appendTo($actions);
      if (!$.trim($toolbar.text())) { $toolbar.remove(); }
    }
    // a record's page: the buttons FAB puts at its end (修改, 删除, 返回)
    if ($panel.hasClass("show")) {
      var $well = $body.find(".well.well-sm").last();
      $well.children("a.btn").each(function () { asButton($(this)).appendTo($actions); });
      if (!$well.children().length) { $well.remove(); }
    }
    // a form: 保存 and 返回 on the title line too (they stay under the form as well)
    if ($panel.hasClass("edit") || $panel.hasClass("add")) {
      var $form = $body.find("form").first();
      var $submit = $form.find(".well button[type=submit]").last();
      if ($submit.length) {
        if (!$form.attr("id")) { $form.attr("id", "mq-page-form"); }
        $submit.clone().attr("form", $form.attr("id")).addClass("mq-head-save").appendTo($actions);
      }
      var $back = $form.find(".well a.btn[href='/back']").first();
      if ($back.length) { asButton($back.clone()).appendTo($actions); }
    }
    if (!$actions.children().length) { $actions.remove(); }
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
    titleLine();
    cards(document);
  });
})(jQuery);
