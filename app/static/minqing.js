/* MinQing front-end helpers (jQuery and select2 are FAB's own copies). No inline
 * scripts: everything here hooks on data attributes and classes. */
(function ($) {
  "use strict";

  // Search-as-you-type pickers: <select class="mq-picker" data-url="/picker/grid">.
  function initPicker(el) {
    var $el = $(el);
    if ($el.data("mq-ready")) { return; }
    $el.data("mq-ready", true);
    var url = $el.attr("data-url");
    $el.select2({
      theme: "bootstrap",
      allowClear: !$el.prop("required"),
      placeholder: $el.attr("data-placeholder") || "",
      minimumInputLength: 0,
      width: "100%",
      ajax: {
        url: url,
        dataType: "json",
        delay: 250,
        data: function (params) { return { q: params.term || "", page: params.page || 1 }; },
        processResults: function (data) { return data; }
      }
    });
    // A filter row FAB cloned from the search form: show the active value's label.
    var name = $el.attr("name") || "";
    if (name.indexOf("_flt_") === 0 && !$el.val()) {
      var value = new URLSearchParams(window.location.search).get(name);
      if (value) {
        $.getJSON(url, { id: value }, function (data) {
          if (data.results && data.results.length) {
            var item = data.results[0];
            $el.append(new Option(item.text, item.id, true, true)).trigger("change");
          }
        });
      }
    }
  }

  function initAll(root) {
    $(root).find("select.mq-picker").each(function () {
      // FAB keeps a hidden template of each search field: only live copies get select2
      if ($(this).closest("form").length) { initPicker(this); }
    });
  }

  $(function () {
    initAll(document);
    var observer = new MutationObserver(function (mutations) {
      mutations.forEach(function (m) {
        $(m.addedNodes).each(function () {
          if (this.nodeType === 1) {
            if ($(this).is("select.mq-picker")) { initPicker(this); } else { initAll(this); }
          }
        });
      });
    });
    observer.observe(document.body, { childList: true, subtree: true });
    // an error page's 返回上一页: back in the browser's history when the user came from a page
    $(document).on("click", "a[data-mq-back]", function (event) {
      if (document.referrer && window.history.length > 1) {
        event.preventDefault();
        window.history.back();
      }
    });
  });
})(jQuery);

// a form that cannot be undone (publishing results ...) asks first: <form data-mq-confirm="...">
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute && event.target.getAttribute("data-mq-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
