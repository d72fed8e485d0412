// The explainer page's behaviour: search, folding, file previews and time travel through
// recorded instruction traces. Inlined into the page; loads nothing.
(function () {
  'use strict';
  var DATA = JSON.parse(document.getElementById('teach-data').textContent);
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var steps = $$('details.step');
  var hex2 = function (n) { return (n < 16 ? '0' : '') + n.toString(16); };
  var hex8 = function (n) { return ('0000000' + (n >>> 0).toString(16)).slice(-8); };
  var escHtml = function (s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; });
  };

  // ---- Opening steps from links, folding ----
  function openStep(id) {
    var el = document.getElementById(id);
    if (!el) return;
    if (el.tagName === 'DETAILS') el.open = true;
    steps.forEach(function (s) { s.classList.remove('target'); });
    el.classList.add('target');
    el.scrollIntoView({ block: 'start' });
  }
  document.addEventListener('click', function (e) {
    var a = e.target.closest('a[href^="#step-"]');
    if (a) { e.preventDefault(); openStep(a.getAttribute('href').slice(1)); history.replaceState(null, '', a.getAttribute('href')); }
  });
  if (location.hash.indexOf('#step-') === 0) openStep(location.hash.slice(1));
  $('#expand').addEventListener('click', function () { steps.forEach(function (s) { if (!s.classList.contains('hidden')) s.open = true; }); });
  $('#collapse').addEventListener('click', function () { steps.forEach(function (s) { s.open = false; }); });
  $$('button.openall').forEach(function (b) {
    b.addEventListener('click', function () {
      var sec = b.closest('section');
      var all = $$('details.step', sec);
      var open = !all.every(function (s) { return s.open; });
      all.forEach(function (s) { s.open = open; });
      b.textContent = open ? 'fold all steps' : 'open all steps';
    });
  });

  // ---- Search ----
  var search = $('#search');
  var texts = steps.map(function (s) { return s.textContent.toLowerCase(); });
  search.addEventListener('input', function () {
    var q = search.value.trim().toLowerCase();
    var hits = 0;
    steps.forEach(function (s, k) {
      var hit = !q || texts[k].indexOf(q) >= 0;
      s.classList.toggle('hidden', !hit);
      if (hit) hits++;
      if (q && hit) s.open = true;
      if (!q) s.open = false;
    });
    $$('section.stage').forEach(function (sec) {
      sec.classList.toggle('hidden', !!q && !$$('details.step:not(.hidden)', sec).length);
    });
    $('#hits').textContent = q ? hits + ' of ' + steps.length + ' steps' : '';
  });

  // ---- File previews: hex and text ----
  function b64bytes(b64) {
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button.pv');
    if (!b) return;
    var pv = DATA.previews[b.dataset.sha];
    if (!pv) return;
    var bytes = b64bytes(pv[1]), hex = [], text = '';
    for (var off = 0; off < bytes.length; off += 16) {
      var row = hex8(off) + '  ', asc = '';
      for (var k = 0; k < 16; k++) {
        var v = bytes[off + k];
        row += (v === undefined ? '  ' : hex2(v)) + (k === 7 ? '  ' : ' ');
        if (v !== undefined) asc += v >= 32 && v < 127 ? String.fromCharCode(v) : '.';
      }
      hex.push(row + ' |' + asc + '|');
    }
    for (var i = 0; i < bytes.length; i++) {
      var c = bytes[i];
      text += c === 10 || c === 9 || (c >= 32 && c < 127) ? String.fromCharCode(c) : '\u00b7';
    }
    $('#pvname').textContent = b.dataset.name + ' (' + pv[0] + ' bytes' + (pv[0] > bytes.length ? ', first ' + bytes.length + ' shown' : '') + ')';
    $('#pvhex').textContent = hex.join('\n');
    $('#pvtext').textContent = text;
    $('#preview').hidden = false;
  });
  $('#pvclose').addEventListener('click', function () { $('#preview').hidden = true; });

  // ---- Time travel ----
  // A trace: insns[k] = [eip, bytes, text, file, line, blockLine, label, story, note];
  // order[t] = insns index of instruction t; changes: ';'-separated per instruction,
  // ',' between "reg=hex" (reg 8 = eflags); io = [t, kind, fd, offset, data, count,
// before-the-window flag]; inputs[path] = [offset of the text, text].
  function Player(box, tr) {
    this.box = box; this.tr = tr;
    var ch = tr.changes.split(';');
    this.delta = ch.slice(0, tr.order.length).map(function (s) {
      if (!s) return [];
      return s.split(',').map(function (p) { var kv = p.split('='); return [+kv[0], parseInt(kv[1], 16) >>> 0]; });
    });
    this.io = tr.io;
    this.build();
    this.keyframes = [];
    var st = this.initial();
    for (var t = 0; t < tr.order.length; t++) {
      if (t % 256 === 0) this.keyframes.push(st.slice());
      this.apply(st, t);
    }
    this.go(0);
  }
  Player.prototype.initial = function () { return this.tr.regs0.concat([this.tr.flags0]); };
  Player.prototype.apply = function (st, t) { this.delta[t].forEach(function (d) { st[d[0]] = d[1]; }); };
  // State before instruction t executes.
  Player.prototype.stateAt = function (t) {
    var k = Math.floor(t / 256), st = this.keyframes[k].slice();
    for (var u = k * 256; u < t; u++) this.apply(st, u);
    return st;
  };
  Player.prototype.build = function () {
    var n = this.tr.order.length;
    this.box.innerHTML =
      '<div class="player" tabindex="0">' +
      '<div class="controls"><button data-d="-1000000">|&lt;</button><button data-d="-100">&lt;&lt;</button><button data-d="-1" class="back">&lt; back</button>' +
      '<input type="range" min="0" max="' + (n - 1) + '" value="0" aria-label="instruction">' +
      '<button data-d="1" class="fwd">forward &gt;</button><button data-d="100">&gt;&gt;</button><button data-d="1000000">&gt;|</button>' +
      '<button class="nextio">next byte out</button><button class="play">play</button>' +
      '<span class="pos"></span></div>' +
      '<div class="keys">Keys (click the player first): ← → one instruction, Shift+← → 100, Home/End, o next byte written, space play/pause. ' +
      escHtml(this.windowNote()) + '</div>' +
      '<div class="grid"><div class="panel"><h4>Source</h4><pre class="src"></pre><div class="insn"></div><div class="story"></div><div class="explain"></div></div>' +
      '<div class="panel"><h4>Registers and flags</h4><table class="regs"></table><div class="flags"></div><div class="event"></div></div>' +
      '<div class="panel"><h4>Input</h4><pre class="inbox"></pre><h4>Output so far</h4><pre class="outbox"></pre></div></div></div>';
    var self = this, root = $('.player', this.box);
    this.root = root;
    this.slider = $('input[type=range]', root);
    this.slider.addEventListener('input', function () { self.go(+self.slider.value); });
    $$('.controls button[data-d]', root).forEach(function (b) {
      b.addEventListener('click', function () { self.go(self.t + +b.dataset.d); });
    });
    $('.nextio', root).addEventListener('click', function () { self.nextWrite(); });
    $('.play', root).addEventListener('click', function () { self.toggle(); });
    root.addEventListener('keydown', function (e) {
      var big = e.shiftKey ? 100 : 1;
      if (e.key === 'ArrowRight') self.go(self.t + big);
      else if (e.key === 'ArrowLeft') self.go(self.t - big);
      else if (e.key === 'Home') self.go(0);
      else if (e.key === 'End') self.go(self.tr.order.length - 1);
      else if (e.key === 'o') self.nextWrite();
      else if (e.key === ' ') self.toggle();
      else return;
      e.preventDefault();
    });
  };
  Player.prototype.windowNote = function () {
    var tr = this.tr, n = tr.order.length;
    var s = n >= tr.total ? 'Recorded: all ' + n + ' instructions.'
      : tr.start ? 'Recorded: ' + n + ' of ' + tr.total + ' instructions, from no. ' + tr.start + ', a little before the first byte written (until then the program only reads its input and computes; the files it opened and the last byte it read are shown as they were).'
      : 'Recorded: the first ' + n + ' of ' + tr.total + ' instructions (the rest repeats the same loops).';
    if (tr.note) s += ' The replay ends where ' + tr.note + '.';
    return s;
  };
  Player.prototype.toggle = function () {
    var self = this, b = $('.play', this.root);
    if (this.timer) { clearInterval(this.timer); this.timer = null; b.textContent = 'play'; return; }
    b.textContent = 'pause';
    this.timer = setInterval(function () {
      if (self.t >= self.tr.order.length - 1) return self.toggle();
      self.go(self.t + 1);
    }, 120);
  };
  Player.prototype.nextWrite = function () {
    for (var k = 0; k < this.io.length; k++) {
      var e = this.io[k];
      if (e[1] === 'w' && e[0] > this.t) return this.go(e[0]);
    }
  };
  Player.prototype.go = function (t) {
    var n = this.tr.order.length;
    t = Math.max(0, Math.min(n - 1, t));
    this.t = t;
    this.slider.value = t;
    var tr = this.tr, ins = tr.insns[tr.order[t]];
    var before = this.stateAt(t), after = before.slice();
    this.apply(after, t);
    $('.pos', this.root).textContent = 'instruction ' + t + ' of ' + n + (tr.start ? ' (no. ' + (tr.start + t) + ' of the run\'s ' + tr.total + ')' : n < tr.total ? ' (run: ' + tr.total + ')' : '');
    // Source listing around the current line.
    var file = ins[3], line = ins[4], src = tr.source[file] || {}, rows = [];
    for (var l = line - 5; l <= line + 5; l++) {
      if (src[l] === undefined) continue;
      rows.push('<span class="' + (l === line ? 'cur' : '') + '"><span class="ln">' + l + '</span>' + escHtml(src[l]) + '</span>');
    }
    var srcBox = $('.src', this.root);
    srcBox.innerHTML = (file === null ? '(no source line)' : '<span>' + escHtml(tr.files[file]) + ':' + line + '</span>') + rows.join('');
    $('.insn', this.root).innerHTML = '<span class="addr">' + hex8(ins[0]) + '</span>  <span class="bytes">' + ins[1] + '</span>  <b>' + escHtml(ins[2]) + '</b>';
    $('.story', this.root).innerHTML = ins[6] ? 'In block <span class="label">:' + escHtml(ins[6]) + '</span> (line ' + ins[5] + '). ' + escHtml(ins[7]) : '';
    $('.explain', this.root).textContent = ins[8] || '';
    // Registers: value after this instruction, highlighted where it changed.
    var names = tr.regNames, html = '';
    for (var r = 0; r < 8; r += 2) {
      html += '<tr>';
      for (var q = r; q < r + 2; q++) {
        html += '<td>' + names[q] + '</td><td class="' + (before[q] !== after[q] ? 'chg' : '') + '">' + hex8(after[q]) + '</td>';
      }
      html += '</tr>';
    }
    $('table.regs', this.root).innerHTML = html + '<tr><td>eip</td><td>' + hex8(ins[0]) + '</td><td colspan="2">(this instruction)</td></tr>';
    $('.flags', this.root).innerHTML = tr.flagBits.map(function (fb) {
      var on = (after[8] & fb[0]) !== 0, chg = ((after[8] ^ before[8]) & fb[0]) !== 0;
      return '<span class="' + (on ? 'on ' : '') + (chg ? 'chg' : '') + '">' + fb[1] + '</span>';
    }).join('');
    this.showIo(t);
  };
  // Input position and output bytes up to and including instruction t.
  Player.prototype.showIo = function (t) {
    var tr = this.tr, fds = tr.fds, inputs = tr.inputs, out = [], lastIn = null, ev = null, outFd = null;
    for (var k = 0; k < this.io.length && this.io[k][0] <= t; k++) {
      var e = this.io[k];
      if (e[1] === 'r' && fds[e[2]]) lastIn = e;
      if (e[1] === 'w' && e[2] > 2) {
        outFd = e[2];
        var bytes = e[4].match(/../g) || [];
        for (var i = 0; i < e[5]; i++) out[e[3] + i] = bytes[i] || '..';
      }
      if (e[0] === t && !e[6]) ev = e;
    }
    var inbox = $('.inbox', this.root);
    if (lastIn) {
      var path = fds[lastIn[2]], slice = inputs[path] || [0, ''], text = slice[1];
      var at = lastIn[3], len = lastIn[5], pos = at - slice[0];
      var from = Math.max(0, pos - 240), to = Math.min(text.length, pos + len + 120);
      inbox.innerHTML = escHtml(path) + ' @ ' + at + (lastIn[6] ? ' (read before the window)' : '') + '\n<span class="done">' + escHtml(text.slice(from, pos)) + '</span><span class="rd">' +
        escHtml(text.slice(pos, pos + len) || '(end of file)') + '</span>' + escHtml(text.slice(pos + len, to));
    } else {
      inbox.textContent = '(nothing read yet)';
    }
    var outbox = $('.outbox', this.root), shown = [], first = Math.max(0, out.length - 160);
    for (var j = first; j < out.length; j++) {
      var b = out[j] || '??';
      shown.push(ev && ev[1] === 'w' && j >= ev[3] && j < ev[3] + ev[5] ? '<span class="new">' + b + '</span>' : b);
    }
    outbox.innerHTML = out.length ? escHtml(outFd !== null && fds[outFd] ? fds[outFd] : 'output') + ': ' + out.length + ' bytes' + (first ? ' (last 160)' : '') + '\n' + shown.join(' ') : '(nothing written yet)';
    var evBox = $('.event', this.root);
    if (!ev) { evBox.textContent = ''; return; }
    var data = ev[4], what = { r: 'read', w: 'write', o: 'open', s: 'lseek' }[ev[1]];
    if (ev[1] === 'r') {
      var c = parseInt(data.slice(0, 2), 16);
      evBox.textContent = data ? 'syscall read(fd ' + ev[2] + ') got byte 0x' + data.slice(0, 2) + (c >= 32 && c < 127 ? " '" + String.fromCharCode(c) + "'" : '') + ' at offset ' + ev[3] : 'syscall read(fd ' + ev[2] + ') returned 0: end of file';
    } else if (ev[1] === 'w') {
      evBox.textContent = 'syscall write(fd ' + ev[2] + ') wrote ' + ev[5] + ' byte(s): ' + data.match(/../g).slice(0, 8).join(' ') + (ev[5] > 8 ? ' …' : '');
    } else if (ev[1] === 'o') {
      evBox.textContent = 'syscall open(' + data + ') returned fd ' + ev[2];
    } else {
      evBox.textContent = 'syscall ' + what + '(fd ' + ev[2] + ') to offset ' + ev[3];
    }
  };
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button.ttopen');
    if (!b) return;
    var box = b.closest('.tt'), tr = DATA.traces[box.dataset.step];
    if (!tr) return;
    var holder = document.createElement('div');
    box.appendChild(holder);
    b.remove();
    var p = new Player(holder, tr);
    p.root.focus();
  });
})();
