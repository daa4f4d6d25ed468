// Behaviour the pages need beyond htmx, as a file: the Content-Security-Policy allows no
// inline script or event-handler attributes.

// A form with data-confirm="Question?" asks before it is sent.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm
      && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
