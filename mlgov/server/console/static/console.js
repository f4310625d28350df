// Progressive enhancement only: every page works without this file.
// A decision form is sent once: its buttons are disabled after the first submit, and the
// button pressed is kept as a hidden field (a disabled button is not sent with the form).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-decision")) return;
  var pressed = event.submitter;
  if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
  form.setAttribute("data-sent", "1");
  if (pressed && pressed.name) {
    var keep = document.createElement("input");
    keep.type = "hidden"; keep.name = pressed.name; keep.value = pressed.value;
    form.appendChild(keep);
  }
  form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
});
