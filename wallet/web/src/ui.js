// Small DOM helpers for the wallet page.

export const $ = (selector) => document.querySelector(selector);

/** An element with attributes and children (strings become text nodes; null is skipped). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child);
  }
  return node;
}

export function show(selector, visible) {
  const node = $(selector);
  if (node) node.hidden = !visible;
}

const STATES = { valid: "有效 valid", revoked: "已注销 revoked", suspended: "已暂停 suspended", expired: "已过期 expired" };

export const stateLabel = (value) => STATES[value] || value;

/** "3 分钟前" / "3 min ago" for an age in seconds. */
export function ago(seconds, lang) {
  const s = Math.max(0, Math.round(seconds));
  const [n, zh, en] = s < 60 ? [0, "刚刚", "just now"]
    : s < 3600 ? [Math.floor(s / 60), "分钟前", "min ago"]
      : s < 86400 ? [Math.floor(s / 3600), "小时前", "h ago"]
        : [Math.floor(s / 86400), "天前", "d ago"];
  if (!n) return lang === "zh" ? zh : en;
  return lang === "zh" ? `${n} ${zh}` : `${n} ${en}`;
}
