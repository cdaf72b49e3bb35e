// SPDX-License-Identifier: LGPL-2.1-or-later
// Run in the page by test_cockpit.py: a live chart with a window of 20 samples, fed 400 samples
// with gaps (counter states), a series that leaves and comes back and several samples between
// two updates, must show after every update the shapes drawn from its whole history at once
// (the page's geometry before charts were kept between ticks). Returns {ok: checks} or the
// first difference.
const M = window.ResctrldModel;
const LiveChart = window.ResctrldLiveChart;
const W = 600;
const H = 150;
const N = 20;

function reference(history, keys, mode) {
    const x = i => W * (i + N - history.samples.length) / (N - 1);
    const bands = {};
    const base = history.samples.map(() => 0);
    let max = 0;
    for (const key of keys) {
        const runs = [];
        let run = null;
        history.samples.forEach((s, i) => {
            const p = s.points[key];
            if (p && p.value !== undefined) {
                if (!run)
                    runs.push(run = []);
                if (mode === "stacked") {
                    run.push([i, base[i], base[i] + p.value]);
                    base[i] += p.value;
                } else {
                    run.push([i, 0, p.value]);
                    max = Math.max(max, p.value);
                }
            } else {
                run = null;
            }
        });
        bands[key] = runs;
    }
    if (mode === "stacked")
        max = Math.max(0, ...base);
    const scale = max > 0 ? (H - 10) / max : 0;
    const y = v => H - v * scale;
    const out = [];
    for (const key of keys) {
        for (const run of bands[key]) {
            let points;
            if (mode !== "stacked") {
                points = run.map(([i, , t]) => [x(i), y(t)]);
            } else if (run.length === 1) {
                const [i, b, t] = run[0];
                points = [[x(i) - 1, y(t)], [x(i) + 1, y(t)], [x(i) + 1, y(b)], [x(i) - 1, y(b)]];
            } else {
                points = run.map(([i, , t]) => [x(i), y(t)])
                        .concat(run.slice().reverse().map(([i, b]) => [x(i), y(b)]));
            }
            out.push([key, points]);
        }
    }
    return sorted(out);
}

function shown(figure) {
    const out = [];
    for (const shape of figure.querySelectorAll("polygon, polyline")) {
        const m = shape.parentNode.transform.baseVal.consolidate().matrix;
        out.push([shape.dataset.series, Array.from(shape.points).map(p =>
            [m.a * p.x + m.c * p.y + m.e, m.b * p.x + m.d * p.y + m.f])]);
    }
    return sorted(out);
}

function sorted(shapes) {
    return shapes.sort((p, q) => p[0].localeCompare(q[0]) || p[1][0][0] - q[1][0][0]);
}

// Within a quarter of a pixel: SVG coordinates are single precision.
function same(want, got) {
    return want.length === got.length && want.every(([key, points], i) =>
        got[i][0] === key && got[i][1].length === points.length &&
        points.every(([x, y], j) => Math.abs(got[i][1][j][0] - x) < 0.25 &&
                                    Math.abs(got[i][1][j][1] - y) < 0.25));
}

const occupancy = new M.History(N);
const bandwidth = new M.History(N);
const options = { samples: N, colourFor: () => "#000", labelFor: k => k, dataName: "check" };
const stackedChart = new LiveChart({ ...options, title: "occupancy", history: occupancy,
    mode: "stacked", formatValue: M.formatBytes });
const linesChart = new LiveChart({ ...options, title: "bandwidth", history: bandwidth,
    mode: "lines", formatValue: M.formatRate });
let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
let checks = 0;
for (let t = 0; t < 400; t++) {
    const occ = {};
    const bw = {};
    for (const vm of ["a", "b", "c", "d"]) {
        if (vm === "d" && t > 150 && t < 200)
            continue;
        occ[vm] = random() < 0.15 ? { state: "unavailable" } : { value: Math.round(random() * 40e6) };
        const r = random();
        bw[vm] = r < 0.1 ? { state: "error" } : r < 0.15 ? { state: "none" }
            : { value: Math.round(random() * 5e9) };
    }
    occupancy.push(t, occ);
    bandwidth.push(t, bw);
    if (random() < 0.4 && t !== 399)
        continue;
    for (const [chart, history, keys, mode] of [[stackedChart, occupancy, occupancy.keys(), "stacked"],
        [linesChart, bandwidth, bandwidth.tellingKeys(), "lines"]]) {
        const want = reference(history, keys, mode);
        const got = shown(chart.update(keys));
        if (!same(want, got))
            return { t, mode, want: JSON.stringify(want), got: JSON.stringify(got) };
        checks++;
    }
}
return { ok: checks };
