// Live preview for the branding editor: the preview follows the form as you type. Without
// JavaScript the "Preview" button renders the same on the server. Loaded from /static/ only
// (the console's Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  var form = document.getElementById("branding-form");
  if (!form) {
    return;
  }
  var httpsUrl = /^https:\/\/[^\s"'<>]+$/;
  var hexColor = /^#[0-9a-fA-F]{6}$/;

  function value(name) {
    var field = form.elements[name];
    return field ? field.value.trim() : "";
  }

  function showImage(id, url) {
    var img = document.getElementById(id);
    if (httpsUrl.test(url)) {
      img.src = url;
      img.hidden = false;
    } else {
      img.removeAttribute("src");
      img.hidden = true;
    }
  }

  function update() {
    var name = value("company_name");
    document.getElementById("preview-name").textContent = name || "Your company";
    showImage("preview-logo", value("company_logo"));
    showImage("preview-icon", value("company_icon"));

    var terms = document.getElementById("preview-terms");
    var termsUrl = value("company_terms_url");
    if (httpsUrl.test(termsUrl)) {
      terms.href = termsUrl;
      terms.hidden = false;
    } else {
      terms.removeAttribute("href");
      terms.hidden = true;
    }

    // CSSOM, not a style attribute: allowed under the CSP.
    var color = value("overlay_background_color");
    document.getElementById("preview-overlay").style.backgroundColor =
      hexColor.test(color) ? color : "#f0f2f4";

    document.getElementById("preview-social").hidden = value("social_proof") === "hide";
  }

  // A field's server-side error no longer applies once it is edited.
  function clearError(event) {
    var field = event.target.closest(".field");
    if (field && field.classList.contains("has-error")) {
      field.classList.remove("has-error");
      event.target.removeAttribute("aria-invalid");
      var error = field.querySelector(".field-error");
      if (error) {
        error.hidden = true;
      }
    }
  }

  form.addEventListener("input", clearError);
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
