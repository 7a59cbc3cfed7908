// The replay's player. NODES and EVENTS come from the page: each event has its time (ms), what
// happened in words (text), and for a change of state the node and its new label.
"use strict";
let position = 0;
let timer = null;
const drawn = Array.from(document.querySelectorAll("[data-event]"));

function show(at) {
  position = Math.max(0, Math.min(EVENTS.length - 1, at));
  for (const element of drawn) {
    const i = Number(element.dataset.event);
    element.classList.toggle("future", i > position);
    element.classList.toggle("current", i === position);
  }
  const event = EVENTS[position];
  document.getElementById("position").textContent =
    "event " + (position + 1) + " of " + EVENTS.length;
  document.getElementById("event").textContent =
    event ? "at " + event.ms.toFixed(3) + " ms: " + event.text : "";
  const states = Array.from({ length: NODES }, () => "");
  for (let i = 0; i <= position && i < EVENTS.length; i++) {
    if (EVENTS[i].node >= 0) states[EVENTS[i].node] = EVENTS[i].label;
  }
  document.getElementById("lanes").innerHTML = "";
  states.forEach((label, node) => {
    const lane = document.createElement("span");
    lane.textContent = "node " + node + ": " + (label || "?");
    document.getElementById("lanes").appendChild(lane);
  });
}

function play() {
  if (timer) {
    clearInterval(timer);
    timer = null;
    document.getElementById("play").textContent = "play";
    return;
  }
  document.getElementById("play").textContent = "pause";
  timer = setInterval(() => {
    if (position >= EVENTS.length - 1) play();
    else show(position + 1);
  }, 250);
}

document.getElementById("back").onclick = () => show(position - 1);
document.getElementById("next").onclick = () => show(position + 1);
document.getElementById("play").onclick = play;
document.addEventListener("keydown", (key) => {
  if (key.key === "ArrowRight") show(position + 1);
  if (key.key === "ArrowLeft") show(position - 1);
  if (key.key === " ") play();
});
show(0);

// `#selftest` steps through the whole run, forward and back, as the buttons do, and says whether
// every step showed what it should: the project's browser test opens the page this way.
if (location.hash === "#selftest") {
  const problems = [];
  for (let i = 0; i < EVENTS.length; i++) {
    if (i > 0) document.getElementById("next").click();
    const said = document.getElementById("position").textContent;
    if (said !== "event " + (i + 1) + " of " + EVENTS.length) problems.push("step " + i + ": " + said);
    const current = drawn.filter((e) => e.classList.contains("current")).map((e) => Number(e.dataset.event));
    if (current.some((c) => c !== i)) problems.push("step " + i + " highlights " + current);
  }
  for (let i = EVENTS.length - 1; i > 0; i--) document.getElementById("back").click();
  if (position !== 0) problems.push("back ends at " + position);
  const lanes = document.getElementById("lanes").children.length;
  if (lanes !== NODES) problems.push(lanes + " lanes for " + NODES + " nodes");
  document.getElementById("selftest").textContent =
    problems.length === 0 ? "selftest ok: " + EVENTS.length + " events" : "selftest failed: " + problems.join("; ");
}
