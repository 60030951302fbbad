/* The job page (minqing/job.html): poll the job's status and move the bar until it is done. */
(function ($) {
  "use strict";
  var box = $("#mq-job");
  if (!box.length) { return; }
  var url = box.data("status-url");

  function show(job) {
    var bar = $("#mq-job-bar");
    bar.css("width", job.percent + "%").attr("aria-valuenow", job.percent).text(job.percent + "%");
    $("#mq-job-status").text(job.status_label);
    $("#mq-job-count").text(job.total ? job.done + " / " + job.total : "");
    $("#mq-job-message").text(job.message || "");
    $("#mq-job-stuck").toggleClass("hidden", !job.stale);
    if (job.status === "failed") {
      bar.removeClass("active").addClass("progress-bar-danger");
      $("#mq-job-error").text(job.error).removeClass("hidden");
      /* the table of the file's errors, or the button that starts a job whose worker stopped again */
      if ((job.errors && job.errors.length) || job.retryable) { window.location.reload(); }
    }
    if (job.status === "done") {
      bar.removeClass("active").addClass("progress-bar-success");
      if (job.result) {
        $("#mq-job-download").attr("href", job.download_url).removeClass("hidden");
        $("#mq-job-file").text(job.result_name);
      }
    }
    return job.status === "queued" || job.status === "running";
  }

  function poll() {
    $.getJSON(url).done(function (job) {
      if (show(job)) { window.setTimeout(poll, 1000); }
    }).fail(function () { window.setTimeout(poll, 5000); });
  }

  var status = box.data("status");
  if (status === "queued" || status === "running") { window.setTimeout(poll, 500); }
}(window.jQuery));
