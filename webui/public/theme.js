// Apply the saved theme before first paint (no flash of the wrong theme).
try {
  var t = localStorage.getItem("qx-theme");
  if (t === "dark" || (!t && matchMedia("(prefers-color-scheme: dark)").matches))
    document.documentElement.classList.add("dark");
} catch (e) {}
