// @ts-check
// Dark and light themes: the system preference until the user picks one, remembered per browser.

const KEY = 'wfx-theme';

/** @returns {'dark' | 'light'} */
function initial() {
  const saved = localStorage.getItem(KEY);
  if (saved === 'dark' || saved === 'light') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/**
 * @param {HTMLElement} button
 * @param {(theme: string) => void} onChange redraws what paints with theme colours (the chart)
 */
export function setupTheme(button, onChange) {
  const root = document.documentElement;
  root.dataset.theme = initial();
  button.addEventListener('click', () => {
    const next = root.dataset.theme === 'dark' ? 'light' : 'dark';
    root.dataset.theme = next;
    localStorage.setItem(KEY, next);
    onChange(next);
  });
}
