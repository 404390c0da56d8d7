// The preview page: a small Discord client for one person, talking to /api on 127.0.0.1.
// Everything shown comes from what the bot sent to the local Discord; nothing loads from elsewhere.
"use strict";

const state = {
  server: null,          // /api/state
  channel: null,         // channel id
  member: null,          // acting member id
  locale: "en-US",
  command: null,         // the chosen command (path + options)
  rendered: new Map(),   // message id -> {json, element}
  seen: new Map(),       // channel id -> last message id seen
  revealed: new Set(),   // spoilers opened: "messageId/index"
};

const $ = (id) => document.getElementById(id);

// The page's own words in the client's language (the bot's catalogs, preview.page), as Discord's client does.
function w(key, values = {}) {
  const words = (state.server && state.server.words) || {};
  const template = words[key] || key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function applyWords() {
  document.title = w("title");
  document.querySelectorAll("[data-word]").forEach((node) => { node.textContent = w(node.dataset.word); });
  document.querySelectorAll("[data-word-label]").forEach((node) => node.setAttribute("aria-label", w(node.dataset.wordLabel)));
  document.querySelectorAll("[data-word-placeholder]").forEach((node) => { node.placeholder = w(node.dataset.wordPlaceholder); });
  document.documentElement.lang = state.locale;
}

function spoilerHtml(inner) {
  return `<span class="spoiler" role="button" tabindex="0" aria-expanded="false" aria-label="${escapeHtml(w("spoiler"))}"><span class="spoiler-text">${inner}</span></span>`;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok && !data.error) data.error = `${response.status} ${response.statusText}`;
  return data;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- Discord markdown -------------------------------------------------------------------

const TIME_STYLES = {
  t: { timeStyle: "short" },
  T: { timeStyle: "medium" },
  d: { dateStyle: "short" },
  D: { dateStyle: "long" },
  f: { dateStyle: "long", timeStyle: "short" },
  F: { dateStyle: "full", timeStyle: "short" },
};

function isValidDate(when) {
  return Number.isFinite(when.getTime());
}

function formatTimestamp(seconds, style) {
  const when = new Date(seconds * 1000);
  if (style === "R") {
    const diff = (when.getTime() - Date.now()) / 1000;
    const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    const rtf = new Intl.RelativeTimeFormat(state.locale, { numeric: "auto" });
    for (const [unit, size] of units) {
      if (Math.abs(diff) >= size || unit === "second") return rtf.format(Math.round(diff / size), unit);
    }
  }
  return new Intl.DateTimeFormat(state.locale, TIME_STYLES[style] || TIME_STYLES.f).format(when);
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Inline markdown on already-escaped text; code spans are swapped out first so nothing applies inside them.
function inline(text, keep) {
  const names = (state.server && state.server.names) || { users: {}, channels: {}, roles: {} };
  let out = text;
  out = out.replace(/&lt;t:(-?\d+)(?::([tTdDfFR]))?&gt;/g, (raw, secs, style) => {
    const when = new Date(Number(secs) * 1000);
    // Past what a date can hold (±8.64e12 s), Discord shows the markup as typed; so does the page.
    if (!isValidDate(when)) return keep(raw);
    return keep(`<time class="stamp" datetime="${when.toISOString()}" title="${escapeHtml(formatTimestamp(Number(secs), "F"))}">${escapeHtml(formatTimestamp(Number(secs), style || "f"))}</time>`);
  });
  out = out.replace(/&lt;@!?(\d+)&gt;/g, (_, id) => keep(`<span class="mention">@${escapeHtml(names.users[id] || "unknown-user")}</span>`));
  out = out.replace(/&lt;@&amp;(\d+)&gt;/g, (_, id) => keep(`<span class="mention">@${escapeHtml(names.roles[id] || "unknown-role")}</span>`));
  out = out.replace(/&lt;#(\d+)&gt;/g, (_, id) => keep(`<span class="mention">#${escapeHtml(names.channels[id] || "unknown")}</span>`));
  out = out.replace(/&lt;\/([\w -]+):\d+&gt;/g, (_, name) => keep(`<span class="mention">/${name}</span>`));
  out = out.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, (_, label, url) => keep(link(url, label)));
  out = out.replace(/(^|[\s(])(https?:\/\/[^\s<]+[^\s<.,;:!?)'"])/g, (_, lead, url) => lead + keep(link(url, url)));
  out = out.replace(/\*\*\*(.+?)\*\*\*/g, "<strong><em>$1</em></strong>");
  out = out.replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>");
  out = out.replace(/__(.+?)__/g, "<u>$1</u>");
  out = out.replace(/(^|[^*\w])\*(?!\s)(.+?)\*(?!\w)/g, "$1<em>$2</em>");
  out = out.replace(/(^|[^_\w])_(?!\s)(.+?)_(?!\w)/g, "$1<em>$2</em>");
  out = out.replace(/~~(.+?)~~/g, "<s>$1</s>");
  out = out.replace(/\|\|(.+?)\|\|/gs, (_, inner) => spoilerHtml(inner));
  return out;
}

// A link to a message of this server jumps to it here instead of opening discord.com.
function link(url, label) {
  const jump = url.match(/^https:\/\/discord\.com\/channels\/(\d+)\/(\d+)(?:\/(\d+))?$/);
  if (jump && state.server && jump[1] === state.server.guild.id) {
    const name = state.server.names.channels[jump[2]] || "channel";
    const text = label === url ? `#${escapeHtml(name)} › message` : label;
    return `<a href="#message-${jump[3] || ""}" data-jump-channel="${jump[2]}" data-jump-message="${jump[3] || ""}">${text}</a>`;
  }
  return `<a href="${url}" rel="noreferrer noopener" target="_blank">${label}</a>`;
}

function markdown(source) {
  const kept = [];
  const keep = (html) => `\u0000${kept.push(html) - 1}\u0000`;
  let text = String(source || "");
  text = text.replace(/```(?:[\w+-]*\n)?([\s\S]*?)```/g, (_, code) => keep(`<pre><code>${escapeHtml(code.replace(/\n$/, ""))}</code></pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${escapeHtml(code)}</code>`));
  text = text.replace(/\\([^\w\s])/g, (_, char) => keep(escapeHtml(char)));
  text = escapeHtml(text);
  const lines = text.split("\n").map((line) => {
    let m;
    if ((m = line.match(/^(#{1,3}) (.+)$/))) return `<h${m[1].length + 2}>${inline(m[2], keep)}</h${m[1].length + 2}>`;
    if ((m = line.match(/^-# (.+)$/))) return `<span class="subtext">${inline(m[1], keep)}</span>`;
    if ((m = line.match(/^&gt; (.*)$/))) return `<blockquote>${inline(m[1], keep)}</blockquote>`;
    if ((m = line.match(/^\s*[-*] (.+)$/))) return `• ${inline(m[1], keep)}`;
    return inline(line, keep);
  });
  let html = lines.join("\n").replace(/<\/(blockquote|h\d)>\n/g, "</$1>");
  // Spoilers may span lines and wrap kept pieces: apply them once more over the whole text.
  html = html.replace(/\|\|([\s\S]+?)\|\|/g, (_, inner) => spoilerHtml(inner));
  return html.replace(/\u0000(\d+)\u0000/g, (_, i) => kept[Number(i)]);
}

function richText(source, className, key) {
  const node = el("div", { class: className });
  node.innerHTML = markdown(source);
  node.querySelectorAll("a[data-jump-channel]").forEach((anchor) => anchor.addEventListener("click", (event) => {
    event.preventDefault();
    jumpTo(anchor.dataset.jumpChannel, anchor.dataset.jumpMessage);
  }));
  node.querySelectorAll(".spoiler").forEach((spoiler, index) => {
    const id = `${key}/${index}`;
    if (state.revealed.has(id)) reveal(spoiler);
    const open = () => { state.revealed.add(id); reveal(spoiler); };
    spoiler.addEventListener("click", open);
    spoiler.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); }
    });
  });
  return node;
}

function jumpTo(channel, message) {
  if (channel !== state.channel) selectChannel(channel);
  const find = () => document.querySelector(`[data-message="${message}"]`);
  const go = () => { const target = find(); if (target) { target.scrollIntoView({ block: "center" }); target.focus(); } };
  if (find()) go(); else setTimeout(go, 600);
}

function reveal(spoiler) {
  spoiler.classList.add("revealed");
  spoiler.setAttribute("aria-expanded", "true");
  spoiler.removeAttribute("aria-label");
  spoiler.removeAttribute("role");
  spoiler.removeAttribute("tabindex");
}

// -- messages ----------------------------------------------------------------------------

function colour(value) {
  return value === undefined || value === null ? null : `#${Number(value).toString(16).padStart(6, "0")}`;
}

function renderEmbed(embed, key) {
  const node = el("article", { class: "embed" });
  if (embed.color !== undefined) node.style.borderLeftColor = colour(embed.color);
  if (embed.author && embed.author.name) node.append(el("div", { class: "embed-author", text: embed.author.name }));
  if (embed.title) {
    const title = richText(embed.title, "embed-title", `${key}/title`);
    if (embed.url) { const a = el("a", { href: embed.url, rel: "noreferrer noopener", target: "_blank" }); a.append(...title.childNodes); title.append(a); }
    node.append(title);
  }
  if (embed.description) node.append(richText(embed.description, "embed-description", `${key}/description`));
  if (embed.fields && embed.fields.length) {
    node.append(el("div", { class: "embed-fields" }, embed.fields.map((field, i) => el(
      "div", { class: field.inline ? "embed-field inline" : "embed-field" },
      richText(field.name, "embed-field-name", `${key}/f${i}n`),
      richText(field.value, "embed-field-value", `${key}/f${i}v`),
    ))));
  }
  const footer = [];
  if (embed.footer && embed.footer.text) footer.push(embed.footer.text);
  const stamp = new Date(embed.timestamp);
  if (embed.timestamp && isValidDate(stamp)) footer.push(new Intl.DateTimeFormat(state.locale, TIME_STYLES.f).format(stamp));
  if (footer.length) node.append(el("div", { class: "embed-footer", text: footer.join(" • ") }));
  return node;
}

function buttonLabel(component) {
  const parts = [];
  if (component.emoji && component.emoji.name && !component.emoji.id) parts.push(component.emoji.name);
  if (component.label) parts.push(component.label);
  return parts.join(" ");
}

function renderComponent(component, message, key) {
  switch (component.type) {
    case 1:
      return el("div", { class: "row" }, (component.components || []).map((c, i) => renderComponent(c, message, `${key}/${i}`)));
    case 2:
      if (component.style === 5) {
        return el("a", { class: "btn-5", href: component.url, rel: "noreferrer noopener", target: "_blank", text: buttonLabel(component) });
      }
      return el("button", {
        type: "button",
        class: `btn-${component.style || 2}`,
        disabled: component.disabled,
        text: buttonLabel(component),
        onclick: () => act("/api/click", { message: message.id, custom_id: component.custom_id }),
      });
    case 3: {
      const multiple = (component.max_values || 1) > 1;
      const select = el("select", { "aria-label": component.placeholder || w("choose"), multiple, disabled: component.disabled },
        multiple ? null : el("option", { value: "", text: component.placeholder || w("make_selection") }),
        (component.options || []).map((o) => el("option", { value: o.value, selected: o.default, text: (o.emoji && o.emoji.name ? o.emoji.name + " " : "") + o.label })));
      const send = () => {
        const values = Array.from(select.selectedOptions).map((o) => o.value).filter((v) => v !== "");
        if (values.length) act("/api/select", { message: message.id, custom_id: component.custom_id, values });
      };
      if (!multiple) { select.addEventListener("change", send); return select; }
      return el("span", { class: "row" }, select, el("button", { type: "button", text: w("choose"), onclick: send }));
    }
    case 9:
      return el("div", { class: "row" },
        el("div", {}, (component.components || []).map((c, i) => renderComponent(c, message, `${key}/${i}`))),
        component.accessory ? renderComponent(component.accessory, message, `${key}/a`) : null);
    case 10:
      return richText(component.content, "content", key);
    case 14:
      return el("hr", { class: "separator" });
    case 17: {
      const box = el("div", { class: "container" }, (component.components || []).map((c, i) => renderComponent(c, message, `${key}/${i}`)));
      if (component.accent_color !== undefined && component.accent_color !== null) box.style.borderLeftColor = colour(component.accent_color);
      return box;
    }
    default:
      return el("div", { class: "help", text: w("unknown_component", { type: component.type }) });
  }
}

function renderMessage(message) {
  const names = state.server.names;
  const isBot = message.author.bot;
  const ephemeral = (message.flags & 64) !== 0;
  const loading = (message.flags & 128) !== 0;
  const node = el("li", { class: ephemeral ? "message ephemeral" : "message", "data-message": message.id, id: `message-${message.id}`, tabindex: "-1" });
  const meta = message.interaction_metadata;
  if (meta && meta.user) {
    const who = names.users[meta.user.id] || meta.user.global_name || meta.user.username;
    node.append(el("div", { class: "used", text: meta.name ? w("used_command", { name: who, command: meta.name }) : w("pressed_button", { name: who }) }));
  }
  const when = new Date(message.timestamp);
  node.append(el("div", { class: "meta" },
    el("span", { class: "author", text: names.users[message.author.id] || message.author.global_name || message.author.username }),
    isBot ? el("span", { class: "badge", text: w("app") }) : null,
    el("time", { datetime: when.toISOString(), title: formatTimestamp(when.getTime() / 1000, "F"), text: formatTimestamp(when.getTime() / 1000, "t") }),
    message.edited_timestamp ? el("span", { class: "edited", text: w("edited") }) : null));
  if (loading) node.append(el("div", { class: "thinking", text: w("thinking", { name: names.users[message.author.id] || w("the_bot") }) }));
  if (message.content) node.append(richText(message.content, "content", `${message.id}/c`));
  (message.embeds || []).forEach((embed, i) => node.append(renderEmbed(embed, `${message.id}/e${i}`)));
  if (message.attachments && message.attachments.length) {
    node.append(el("div", { class: "attachments" }, message.attachments.map((a) => el("a", { href: a.url, download: a.filename, text: `📎 ${a.filename}` }))));
  }
  if (message.components && message.components.length) {
    node.append(el("div", { class: "components" }, message.components.map((c, i) => renderComponent(c, message, `${message.id}/k${i}`))));
  }
  if (ephemeral) node.append(el("div", { class: "only-you", text: w("only_you") }));
  return node;
}

async function refreshMessages() {
  if (!state.server || !state.channel || !state.member) return;
  const data = await api(`/api/messages?channel=${state.channel}&member=${state.member}`);
  if (data.error) return;
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const wanted = new Set(data.messages.map((m) => m.id));
  for (const [id, entry] of state.rendered) {
    if (!wanted.has(id)) { entry.element.remove(); state.rendered.delete(id); }
  }
  list.querySelector(".empty")?.remove();
  let previous = null;
  let added = false;
  for (const message of data.messages) {
    const json = JSON.stringify(message);
    let entry = state.rendered.get(message.id);
    if (!entry || entry.json !== json) {
      const element = renderMessage(message);
      if (entry) entry.element.replaceWith(element); else added = true;
      entry = { json, element };
      state.rendered.set(message.id, entry);
    }
    if (entry.element.previousElementSibling !== previous || entry.element.parentNode !== list) {
      if (previous) previous.after(entry.element); else list.prepend(entry.element);
    }
    previous = entry.element;
  }
  if (!data.messages.length) list.append(el("li", { class: "empty", text: w("no_messages") }));
  const last = data.messages.length ? data.messages[data.messages.length - 1].id : null;
  if (last) state.seen.set(state.channel, last);
  if (added && nearBottom) list.scrollTop = list.scrollHeight;
}

// -- server, channels, members --------------------------------------------------------------

function stateQuery() {
  const query = new URLSearchParams({ locale: state.locale });
  if (state.member) query.set("member", state.member);
  if (state.channel) query.set("channel", state.channel);
  return `?${query}`;
}

function allChannels() {
  return state.server.places.flatMap((place) => place.channels.map((channel) => ({ ...channel, place })));
}

async function refreshState() {
  const data = await api(`/api/state${stateQuery()}`);
  if (data.error) return;
  const first = !state.server;
  state.server = data;
  if (first) {
    state.member = data.members[0].id;
    state.channel = data.channels[0].id;
    $("acting-as").replaceChildren(...data.members.map((m) => el("option", { value: m.id, title: m.about, text: m.name })));
    $("language").replaceChildren(...data.locales.map((l) => el("option", { value: l.code, text: l.name })));
    state.locale = data.locales.length ? data.locales[0].code : "en-US";
  }
  // A DM is the acting person's own: acting as someone else opens theirs.
  if (!allChannels().some((c) => c.id === state.channel)) {
    const dms = data.places.find((place) => place.id === "dms");
    state.channel = dms ? dms.channels[0].id : data.channels[0].id;
    selectChannel(state.channel, false);
  }
  applyWords();
  const status = $("bot-status");
  status.textContent = data.ready ? w("online", { bot: data.bot.name }) : w("waiting");
  status.classList.toggle("online", data.ready);
  renderChannels();
  renderMembers();
  if (first) { selectChannel(state.channel); }
  else renderPlace();
  if (state.command && !data.commands.some((c) => c.path === state.command.path)) chooseCommand(null);
  // A command typed while the member's commands were still loading gets its options now.
  const typed = $("command").value.replace(/^\//, "").trim().toLowerCase();
  if (typed && !state.command) {
    const exact = data.commands.find((c) => c.path === typed);
    if (exact) chooseCommand(exact, false);
  }
}

function channelIcon(channel) {
  return channel.kind === "announcements" ? "»" : channel.kind === "thread" ? "↳" : channel.kind === "dm" ? "@" : "#";
}

function channelLabel(channel, unread) {
  const kind = channel.kind === "thread" ? w("thread") : channel.kind === "announcements" ? w("announcements") : null;
  const name = channel.kind === "dm" ? w("dm_with", { name: channel.name }) : channel.name;
  const notes = [kind, channel.spoiler_channel ? w("spoiler_channel_in_discord") : null].filter(Boolean);
  return `${name}${notes.length ? ` (${notes.join(", ")})` : ""}${unread ? `, ${w("new_messages")}` : ""}`;
}

function renderChannels() {
  const items = state.server.places.flatMap((place) => [
    el("li", { class: "place" }, el("h3", { text: place.name }),
      place.installed ? null : el("p", { class: "hint", text: w("not_installed") })),
    ...place.channels.map((channel) => {
      const unread = channel.id !== state.channel && channel.last_message_id && channel.last_message_id !== state.seen.get(channel.id);
      return el("li", { class: channel.kind === "thread" ? "thread" : null },
        el("button", {
          type: "button",
          "aria-current": channel.id === state.channel ? "true" : "false",
          class: unread ? "unread" : null,
          "aria-label": channelLabel(channel, unread),
          onclick: () => selectChannel(channel.id),
        }, el("span", { "aria-hidden": "true", text: channelIcon(channel) }), channel.name,
        channel.spoiler_channel ? el("span", { class: "spoiler-badge", "aria-hidden": "true", text: w("spoiler_channel_in_discord") }) : null));
    }),
  ]);
  $("channel-list").replaceChildren(...items);
}

function renderMembers() {
  const bot = el("li", {}, el("span", { text: state.server.bot.name }), " ", el("span", { class: "badge", text: w("app") }));
  $("member-list").replaceChildren(bot, ...state.server.members.map((m) => el("li", { class: m.id === state.member ? "acting" : null },
    m.name, m.id === state.member ? el("span", { class: "badge acting-badge", text: w("acting") }) : null,
    el("span", { class: "about", text: m.about }),
    ...(m.roles || []).map((name) => el("span", { class: "badge role-badge", text: `@${name}` })))));
  renderEvents();
}

function renderEvents() {
  const events = state.server.events || [];
  const items = events.map((event) => el("li", { class: "event" },
    el("span", { text: event.name }),
    el("span", { class: "about", text: `${new Intl.DateTimeFormat(state.locale, TIME_STYLES.F).format(new Date(event.start))} · ${event.location || ""}` }),
    el("span", { class: "about", text: w("interested", { count: event.interested }) })));
  $("event-list").replaceChildren(...(items.length ? items : [el("li", { class: "about", text: w("no_events") })]));
}

function renderPlace() {
  const channel = allChannels().find((c) => c.id === state.channel);
  if (!channel) return;
  $("guild-name").textContent = channel.place.name;
  $("channel-name").textContent = channel.kind === "dm" ? w("dm_with", { name: channel.name }) : `${channelIcon(channel)} ${channel.name}`;
  $("channel-topic").textContent = channel.topic || "";
  const hint = $("place-hint");
  hint.textContent = channel.place.installed ? "" : w("not_installed");
  hint.hidden = channel.place.installed;
}

function selectChannel(id, refresh = true) {
  state.channel = id;
  state.rendered.clear();
  $("messages").replaceChildren();
  renderPlace();
  renderChannels();
  if (refresh) {
    refreshMessages();
    refreshState();  // the commands Discord offers depend on where you are
  }
}

// -- the command line --------------------------------------------------------------------------

function showNotice(text) {
  const notice = $("notice");
  notice.hidden = !text;
  notice.textContent = text || "";
}

function listbox(list, entries, onPick) {
  list.replaceChildren(...entries.map((entry, i) => el("li", {
    role: "option", id: `${list.id}-${i}`, "aria-selected": "false", tabindex: "-1",
    onmousedown: (event) => event.preventDefault(),
    onclick: () => onPick(entry),
  }, entry.label, entry.description ? el("span", { class: "desc", text: entry.description }) : null)));
  list.hidden = entries.length === 0;
}

function keyboardListbox(input, list, onPick) {
  input.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    const options = Array.from(list.querySelectorAll("[role=option]"));
    let index = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      index = event.key === "ArrowDown" ? Math.min(index + 1, options.length - 1) : Math.max(index - 1, 0);
      options.forEach((o, i) => o.setAttribute("aria-selected", i === index ? "true" : "false"));
      input.setAttribute("aria-activedescendant", options[index].id);
    } else if ((event.key === "Enter" || event.key === "Tab") && index >= 0) {
      event.preventDefault();
      options[index].click();
    } else if (event.key === "Escape") {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
    }
  });
}

function suggestCommands() {
  const input = $("command");
  const typed = input.value.replace(/^\//, "").trim().toLowerCase();
  const commands = (state.server && state.server.commands) || [];
  const exact = commands.find((c) => c.path === typed);
  if (exact && (!state.command || state.command.path !== exact.path)) chooseCommand(exact, false);
  const matches = commands.filter((c) => c.path.startsWith(typed) && c.path !== typed).slice(0, 25);
  const list = $("command-suggestions");
  listbox(list, matches.map((c) => ({ label: `/${c.path}`, description: c.description, command: c })), (entry) => {
    chooseCommand(entry.command);
    list.hidden = true;
  });
  input.setAttribute("aria-expanded", list.hidden ? "false" : "true");
}

function chooseCommand(command, setText = true) {
  state.command = command;
  $("options").replaceChildren();
  $("command-help").textContent = command ? command.description : "";
  if (!command) return;
  if (setText) $("command").value = `/${command.path}`;
  $("command-suggestions").hidden = true;
  $("command").setAttribute("aria-expanded", "false");
  for (const option of command.options) $("options").append(renderOption(option));
  const firstField = $("options").querySelector("input, select");
  if (setText && firstField) firstField.focus();
}

function channelChoices(option) {
  return state.server.channels.filter((c) => {
    if (!option.channel_types) return true;
    const type = c.kind === "thread" ? 11 : c.kind === "announcements" ? 5 : 0;
    return option.channel_types.includes(type);
  }).map((c) => ({ value: c.id, label: `#${c.name}` }));
}

function renderOption(option) {
  const id = `option-${option.name}`;
  const label = el("span", { class: "option-head" }, el("label", { for: id, text: option.name }),
    option.required ? el("span", { class: "required", "aria-hidden": "true", text: " *" }) : null);
  const wrap = el("div", { class: "option", title: option.description });
  let field;
  const selectOf = (entries) => el("select", { id, name: option.name, required: option.required },
    el("option", { value: "", text: option.required ? w("choose_option") : w("leave_out") }),
    entries.map((e) => el("option", { value: e.value, text: e.label })));
  if (option.choices && option.choices.length) {
    field = selectOf(option.choices.map((c) => ({ value: String(c.value), label: c.name })));
  } else if (option.type === 5) {
    field = selectOf([{ value: "true", label: w("true") }, { value: "false", label: w("false") }]);
  } else if (option.type === 7) {
    field = selectOf(channelChoices(option));
  } else if (option.type === 6 || option.type === 9) {
    field = selectOf(state.server.members.map((m) => ({ value: m.id, label: `@${m.name}` })));
  } else if (option.type === 8) {
    field = selectOf(Object.entries(state.server.names.roles).map(([rid, name]) => ({ value: rid, label: `@${name}` })));
  } else if (option.type === 11) {
    field = el("input", { id, name: option.name, disabled: true, placeholder: w("attachments_unsupported") });
  } else {
    const numeric = option.type === 4 || option.type === 10;
    field = el("input", {
      id, name: option.name, type: numeric ? "number" : "text", required: option.required,
      min: option.min_value, max: option.max_value, step: option.type === 10 ? "any" : null,
      minlength: option.min_length, maxlength: option.max_length, placeholder: option.description,
    });
    if (option.autocomplete) {
      const list = el("ul", { id: `${id}-choices`, class: "suggestions", role: "listbox", "aria-label": w("suggestions_for", { option: option.name }), hidden: true });
      field.setAttribute("role", "combobox");
      field.setAttribute("aria-autocomplete", "list");
      field.setAttribute("aria-controls", list.id);
      field.setAttribute("aria-expanded", "false");
      let timer = null;
      let asked = 0;
      field.addEventListener("input", () => {
        delete field.dataset.value;
        clearTimeout(timer);
        const path = state.command.path;
        timer = setTimeout(async () => {
          if (!field.isConnected) return;  // the command was sent or changed meanwhile
          const ticket = ++asked;
          const data = await api("/api/autocomplete", {
            ...where(), command: path, focused: option.name, value: field.value, options: collectOptions(),
          });
          if (ticket !== asked || !field.isConnected) return;
          listbox(list, (data.choices || []).map((c) => ({ label: c.name, value: c.value })), (entry) => {
            field.value = entry.label;
            field.dataset.value = String(entry.value);
            list.hidden = true;
            field.setAttribute("aria-expanded", "false");
          });
          field.setAttribute("aria-expanded", list.hidden ? "false" : "true");
          if (data.error || data.notice) showNotice(data.error || data.notice);
        }, 150);
      });
      field.addEventListener("blur", () => setTimeout(() => { list.hidden = true; field.setAttribute("aria-expanded", "false"); }, 150));
      keyboardListbox(field, list, null);
      wrap.append(label, field, list);
      return wrap;
    }
  }
  wrap.append(label, field);
  return wrap;
}

function collectOptions() {
  const values = {};
  $("options").querySelectorAll("input[name], select[name]").forEach((field) => {
    const value = field.dataset.value !== undefined ? field.dataset.value : field.value;
    if (value !== "") values[field.name] = value;
  });
  return values;
}

function where() {
  return { channel: state.channel, member: state.member, locale: state.locale };
}

async function act(path, body) {
  showNotice("");
  const data = await api(path, { ...where(), ...body });
  if (data.error || data.notice) showNotice(data.error || data.notice);
  if (data.modal) openModal(data.modal, data.interaction);
  await refreshMessages();
  return data;
}

async function sendCommand(event) {
  event.preventDefault();
  const typed = $("command").value.replace(/^\//, "").trim().toLowerCase();
  const command = state.server.commands.find((c) => c.path === typed);
  if (!command) {
    const root = typed.split(" ")[0];
    showNotice(typed ? w("no_such_command", { command: typed }) : w("type_a_command"));
    if (root && !state.server.commands.some((c) => c.root === root)) {
      // Discord hides commands a member may not use; ask the local Discord why, to say so.
      const data = await api("/api/command", { ...where(), command: typed, options: {} });
      if (data.error || data.notice) showNotice(data.error || data.notice);
    }
    return;
  }
  const missing = command.options.filter((o) => o.required && !(o.name in collectOptions()));
  if (missing.length) { showNotice(w("fill_in", { options: missing.map((o) => o.name).join(", ") })); return; }
  const data = await act("/api/command", { command: command.path, options: collectOptions() });
  if (!data.error && !data.notice) {
    $("command").value = "";
    chooseCommand(null);
    $("command").focus();
  }
}

// -- modals --------------------------------------------------------------------------------

function openModal(modal, interaction) {
  const dialog = $("modal");
  $("modal-title").textContent = modal.title || "";
  const inputs = [];
  const collect = (component) => {
    if (component.type === 4) inputs.push({ component, label: component.label });
    if (component.type === 18 && component.component) {
      if (component.component.type === 4) inputs.push({ component: component.component, label: component.label });
    }
    (component.components || []).forEach(collect);
  };
  (modal.components || []).forEach(collect);
  $("modal-fields").replaceChildren(...inputs.map(({ component, label }) => {
    const field = component.style === 2
      ? el("textarea", { name: component.custom_id, rows: 4, required: component.required !== false, maxlength: component.max_length, placeholder: component.placeholder })
      : el("input", { name: component.custom_id, required: component.required !== false, maxlength: component.max_length, placeholder: component.placeholder });
    field.value = component.value || "";
    return el("label", {}, label || component.custom_id, field);
  }));
  const form = $("modal-form");
  form.onsubmit = async (event) => {
    event.preventDefault();
    const values = {};
    form.querySelectorAll("[name]").forEach((f) => { values[f.name] = f.value; });
    dialog.close();
    await act("/api/modal", { interaction, values });
  };
  $("modal-cancel").onclick = () => dialog.close();
  dialog.showModal();
}

// -- start ---------------------------------------------------------------------------------

function start() {
  $("composer").addEventListener("submit", sendCommand);
  $("command").addEventListener("input", suggestCommands);
  $("command").addEventListener("focus", () => { if ($("command").value) suggestCommands(); });
  $("command").addEventListener("blur", () => setTimeout(() => { $("command-suggestions").hidden = true; }, 150));
  keyboardListbox($("command"), $("command-suggestions"), null);
  $("acting-as").addEventListener("change", async (event) => {
    state.member = event.target.value;
    chooseCommand(null);
    $("command").value = "";
    showNotice("");
    state.rendered.clear();
    $("messages").replaceChildren();
    await refreshState();
    await refreshMessages();
  });
  $("language").addEventListener("change", async (event) => {
    state.locale = event.target.value;
    chooseCommand(null);
    $("command").value = "";
    showNotice("");
    await refreshState();  // the page's own words and the commands' names in that language
    state.rendered.clear();
    $("messages").replaceChildren();
    refreshMessages();
  });
  refreshState();
  setInterval(refreshMessages, 1000);
  setInterval(refreshState, 3000);
}

document.addEventListener("DOMContentLoaded", start);
