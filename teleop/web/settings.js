// The connection form (token, name, role) and where its values are kept: the page URL
// (?token=, ?name=, ?role=) first, then this browser. The token is kept for this tab only
// (sessionStorage) and is taken out of the address bar once read.

const $ = (id) => document.getElementById(id);
const STORE = "teleop.connection";

/** The form's current values. */
export function settings() {
  return {
    token: $("token").value.trim(),
    name: $("name").value.trim(),
    role: $("role").value,
  };
}

/** Fills the form from the URL, else from what this browser kept. */
export function loadSettings() {
  const params = new URLSearchParams(window.location.search);
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(STORE) || "{}");
  } catch {
    saved = {};
  }
  $("token").value = params.get("token") ?? sessionStorage.getItem(`${STORE}.token`) ?? "";
  $("name").value = params.get("name") ?? saved.name ?? "";
  const role = params.get("role") ?? saved.role;
  if (role === "observer" || role === "operator") $("role").value = role;
  if (params.has("token")) {
    // Read once; keep it out of the address bar, history and screenshots.
    params.delete("token");
    const query = params.toString();
    window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}`);
  }
}

/** Keeps the form's values for the next visit. */
export function saveSettings() {
  const s = settings();
  localStorage.setItem(STORE, JSON.stringify({ name: s.name, role: s.role }));
  // The token stays in this tab only.
  sessionStorage.setItem(`${STORE}.token`, s.token);
}
