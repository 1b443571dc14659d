/**
 * The sign-in element's style sheet, on its own so that the function app can hash it
 * for the hosted sign-in page's Content-Security-Policy (style-src 'sha256-…') without
 * loading the element (which needs a DOM).
 */
export const SIGN_IN_STYLE = `
:host { display: block; max-width: 26rem; font: 400 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--guestpass-text, #1b1b1b); --accent: var(--guestpass-accent, #0067b8); }
[hidden] { display: none !important; }
.panel { background: var(--guestpass-background, #fff); border: 1px solid #d6d6d6; border-radius: 8px; padding: 1.5rem 1.75rem;
  box-shadow: 0 2px 6px rgb(0 0 0 / 8%); }
h2 { font-size: 1.5rem; font-weight: 600; margin: 0 0 .75rem; }
h2:focus { outline: none; }
p { margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input { box-sizing: border-box; width: 100%; font: inherit; padding: .5rem .625rem; border: 1px solid #8a8a8a; border-radius: 4px; margin-bottom: 1rem; }
input#code { font-size: 1.25rem; letter-spacing: .2em; font-variant-numeric: tabular-nums; }
input[aria-invalid="true"] { border-color: #a4262c; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; }
button { font: inherit; cursor: pointer; border-radius: 4px; }
button.primary { background: var(--accent); color: #fff; border: 1px solid var(--accent); padding: .5rem 1.25rem; font-weight: 600; }
button.secondary { background: #fff; color: var(--accent); border: 1px solid var(--accent); padding: .5rem 1rem; }
button.link { background: none; border: none; color: var(--accent); padding: .25rem 0; text-decoration: underline; }
button:disabled { cursor: default; opacity: .6; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.error { color: #a4262c; font-weight: 600; margin: 1rem 0 0; }
.error:empty, .status:empty { display: none; }
.status { color: #505050; margin: 1rem 0 0; }
.hint { color: #505050; font-size: .875rem; margin: .75rem 0 0; }
.linkrow { margin-top: 1rem; }
`;
