"""Every sentence of the report, in English and Traditional Chinese, in one table.

The renderer only ever asks ``tr(key, lang, **numbers)``: both languages are filled from the same
numbers with the same format specs, so a translated report cannot disagree with the English one.
"""

from __future__ import annotations

import math
import string
from typing import Any

__all__ = ["LANGUAGES", "STRINGS", "fmt", "tr"]

LANGUAGES = ("en", "zh-TW")
MISSING = "—"

STRINGS: dict[str, tuple[str, str]] = {
    # --- title and verdict -------------------------------------------------------------------
    "title": ("Experiment analysis: {run}", "實驗分析報告：{run}"),
    "generated": ("Written by `tfgridnet report` from the run's files ({files}); every statement "
                  "below is computed from them.",
                  "由 `tfgridnet report` 依據本次訓練的檔案（{files}）自動產生；以下每一項敘述皆由這些"
                  "檔案計算而得。"),
    "eval_auto": ("Evaluation folder found next to the run and used: `{path}` (pass `--eval` to "
                  "choose another).",
                  "在訓練資料夾旁找到評估資料夾並已採用：`{path}`（可用 `--eval` 指定其他資料夾）。"),
    "eval_given": ("Evaluation folder: `{path}`.", "評估資料夾：`{path}`。"),
    "eval_none": ("No evaluation folder: evaluation checks were not run (use `--eval EVAL_DIR`).",
                  "沒有評估資料夾：未執行評估相關檢查（請使用 `--eval EVAL_DIR`）。"),
    "verdict_line": ("Verdict: **{word}**", "結論：**{word}**"),
    "verdict.healthy": ("HEALTHY", "健康（healthy）"),
    "verdict.suspicious": ("SUSPICIOUS", "可疑（suspicious）"),
    "verdict.broken": ("BROKEN", "故障（broken）"),
    "verdict_why.healthy": ("No rule fired at warning or error level.",
                            "沒有任何規則觸發警告或錯誤。"),
    "verdict_why.suspicious": ("Warnings, no errors:", "有警告、無錯誤："),
    "verdict_why.broken": ("Errors:", "錯誤："),
    "severity.error": ("error", "錯誤"),
    "severity.warning": ("warning", "警告"),
    "severity.info": ("info", "資訊"),
    # --- section headings --------------------------------------------------------------------
    "h.training": ("Training summary", "訓練摘要"),
    "h.sisnr": ("SI-SNR statistics", "SI-SNR 統計"),
    "h.phases": ("Training phases", "訓練階段分析"),
    "h.findings": ("Key findings", "關鍵發現"),
    "h.top": ("Top epochs by validation SI-SNR", "驗證 SI-SNR 最佳 epoch"),
    "h.lr": ("Learning-rate decay", "學習率衰減"),
    "h.stability": ("Stability", "訓練穩定性"),
    "h.memory": ("Memory", "記憶體"),
    "h.evaluation": ("Evaluation against expected ranges", "評估結果與預期範圍比較"),
    "h.utterances": ("Worst and best utterances", "最差與最佳樣本"),
    "h.diagnosis": ("Problem diagnosis", "問題診斷"),
    "h.recommendations": ("Recommendations", "建議"),
    "h.plots": ("Plots", "圖表"),
    "h.missing": ("Missing data", "缺少的資料"),
    "h.conditions": ("By condition", "依條件分組"),
    "cond.note": ("Means per group, noisy → enhanced (improvement; for the level error, how much "
                  "closer to 0 dB), from summary.json.",
                  "各組平均，帶噪 → 增強後（改善量；音量誤差則為更接近 0 dB 的程度），取自 "
                  "summary.json。"),
    "cond.noise_kind": ("Noise kind", "噪音種類"),
    "cond.snr_db": ("Input SNR ({width:g} dB bins)", "輸入 SNR（每 {width:g} dB 一組）"),
    "cond.duration_s": ("Duration", "長度"),
    # --- generic table words -----------------------------------------------------------------
    "col.item": ("Item", "項目"),
    "col.value": ("Value", "數值"),
    "col.expected": ("Expected", "預期"),
    "col.status": ("Status", "狀態"),
    "col.train": ("Train SI-SNR (dB)", "訓練 SI-SNR (dB)"),
    "col.valid": ("Valid SI-SNR (dB)", "驗證 SI-SNR (dB)"),
    "col.statistic": ("Statistic", "統計量"),
    "col.phase": ("Phase", "階段"),
    "col.epochs": ("Epochs", "Epochs"),
    "col.delta": ("Valid change vs previous (dB)", "驗證較前一階段變化 (dB)"),
    "col.trend": ("Observation", "觀察"),
    "col.rank": ("Rank", "排名"),
    "col.epoch": ("Epoch", "Epoch"),
    "col.uttid": ("Utterance", "樣本"),
    "col.improvement": ("SI-SNRi (dB)", "SI-SNR 改善 (dB)"),
    "col.noisy": ("Noisy SI-SNR (dB)", "帶噪 SI-SNR (dB)"),
    "col.enhanced": ("Enhanced SI-SNR (dB)", "增強後 SI-SNR (dB)"),
    "col.code": ("Code", "代碼"),
    "col.severity": ("Severity", "嚴重度"),
    "col.message": ("Finding", "發現"),
    "stat.mean": ("mean", "平均"),
    "stat.best": ("best", "最佳"),
    "stat.worst": ("worst", "最差"),
    "stat.first": ("first epoch", "第一個 epoch"),
    "stat.last": ("last epoch", "最後一個 epoch"),
    "phase.early": ("early", "早期"),
    "phase.middle": ("middle", "中期"),
    "phase.late": ("late", "後期"),
    "trend.first": ("starting point", "起點"),
    "trend.improving": ("improving", "持續改善"),
    "trend.flat": ("flat (change under 0.5 dB)", "持平（變化小於 0.5 dB）"),
    "trend.declining": ("declining", "下降"),
    "sisnr_note": ("SI-SNR in dB, higher is better; the training loss is −SI-SNR.",
                   "SI-SNR 以 dB 表示，越高越好；訓練損失為 −SI-SNR。"),
    "identity_note": ("Identity baseline (noisy input scored as if it were the output) on the "
                      "validation set: mean {mean:.2f} dB.",
                      "驗證集的恆等基準（把帶噪輸入直接當作輸出評分）：平均 {mean:.2f} dB。"),
    "from_loss_note": ("`{column}` was not logged; it is shown as −`{loss}` (the loss convention).",
                       "未記錄 `{column}`；此處以 −`{loss}` 顯示（依損失定義）。"),
    "no_valid": ("No validation SI-SNR in metrics.csv: statistics, phases and top epochs need "
                 "`valid_sisnr`.",
                 "metrics.csv 中沒有驗證 SI-SNR：統計、階段與最佳 epoch 需要 `valid_sisnr`。"),
    # --- training summary rows ---------------------------------------------------------------
    "row.run_dir": ("Run folder", "訓練資料夾"),
    "row.device": ("Device", "裝置"),
    "row.torch": ("PyTorch", "PyTorch"),
    "row.precision": ("Precision", "精度"),
    "row.world_size": ("Processes (world size)", "行程數（world size）"),
    "row.epochs": ("Epochs run", "已訓練 epochs"),
    "row.epoch_range": ("Epoch range", "Epoch 範圍"),
    "row.planned": ("Epochs planned (config)", "預定 epochs（設定檔）"),
    "row.time": ("Training time (h)", "訓練時間（小時）"),
    "row.time_min": ("Training time (min)", "訓練時間（分鐘）"),
    "row.time_to_best": ("Time to best epoch (h)", "達到最佳 epoch 的時間（小時）"),
    "row.epoch_time": ("Mean time per epoch (s)", "每個 epoch 平均時間（秒）"),
    "row.steps": ("Optimizer steps", "最佳化步數"),
    "row.sec_per_batch": ("Mean time per batch (s)", "每個 batch 平均時間（秒）"),
    "row.samples_per_sec": ("Mean throughput (samples/s)", "平均吞吐量（樣本/秒）"),
    "row.samples": ("Samples processed (steps × batch size)", "已處理樣本數（步數 × batch size）"),
    "row.batch_size": ("Batch size (config)", "Batch size（設定檔）"),
    "row.checkpoints": ("Checkpoint files", "檢查點檔案數"),
    # --- LR / stability / memory -------------------------------------------------------------
    "lr.initial": ("Initial learning rate: {value:.2e}", "初始學習率：{value:.2e}"),
    "lr.final": ("Final learning rate: {value:.2e}", "最終學習率：{value:.2e}"),
    "lr.ratio": ("Decay: {value:,.1f}×", "衰減倍數：{value:,.1f}×"),
    "lr.below": ("Below 1/{ratio:,.0f} of the initial rate from epoch {epoch} on.",
                 "自 epoch {epoch} 起低於初始學習率的 1/{ratio:,.0f}。"),
    "lr.never_below": ("Never below 1/{ratio:,.0f} of the initial rate.",
                       "從未低於初始學習率的 1/{ratio:,.0f}。"),
    "lr.missing": ("No `lr` column.", "沒有 `lr` 欄位。"),
    "grad.mean": ("Gradient norm (epoch mean): first epoch {first:,.2f}, last epoch {last:,.2f}, "
                  "median {median:,.2f}.",
                  "梯度範數（每 epoch 平均）：第一個 epoch {first:,.2f}，最後一個 epoch {last:,.2f}，"
                  "中位數 {median:,.2f}。"),
    "grad.max": ("Gradient norm (epoch max): first epoch {first:,.2f}, last epoch {last:,.2f}; "
                 "largest {value:,.2f} at epoch {epoch}.",
                 "梯度範數（每 epoch 最大）：第一個 epoch {first:,.2f}，最後一個 epoch {last:,.2f}；"
                 "最大值 {value:,.2f}（epoch {epoch}）。"),
    "grad.clip": ("Clip threshold (max norm): {value:g}.", "梯度裁剪門檻（max norm）：{value:g}。"),
    "grad.clip_unknown": ("Clip threshold: not recorded.", "梯度裁剪門檻：未記錄。"),
    "grad.clipped": ("Clipped steps: {clipped:,.0f} of {steps:,.0f} ({share:.1%}).",
                     "被裁剪的步數：{clipped:,.0f} / {steps:,.0f}（{share:.1%}）。"),
    "grad.clipped_no_steps": ("Clipped steps: {clipped:,.0f} (total steps unknown).",
                              "被裁剪的步數：{clipped:,.0f}（總步數未知）。"),
    "grad.nonfinite": ("Non-finite steps (NaN/inf): {value:,.0f}.",
                       "非有限值步數（NaN/inf）：{value:,.0f}。"),
    "grad.missing": ("Not logged: {columns}.", "未記錄：{columns}。"),
    "mem.peak": ("Peak memory: {peak:.2f} GB of {device:.2f} GB on {name} ({share:.0%}).",
                 "峰值記憶體：{peak:.2f} GB / {device:.2f} GB（{name}，{share:.0%}）。"),
    "mem.peak_only": ("Peak memory: {peak:.2f} GB (device memory not recorded).",
                      "峰值記憶體：{peak:.2f} GB（未記錄裝置記憶體）。"),
    "mem.missing": ("No `peak_mem_mb` column.", "沒有 `peak_mem_mb` 欄位。"),
    "mem.precision": ("Precision: {value}.", "精度：{value}。"),
    # --- evaluation ----------------------------------------------------------------------------
    "ev.source": ("{n} utterances, statistics from `{source}`.", "共 {n} 句，統計來源：`{source}`。"),
    "ev.link": ("Listening page of the evaluation: [{href}]({href})",
                "評估試聽頁面：[{href}]({href})"),
    "ev.noisy": ("Noisy input SI-SNR, mean (dB)", "帶噪輸入 SI-SNR 平均 (dB)"),
    "ev.enhanced": ("Enhanced SI-SNR, mean (dB)", "增強後 SI-SNR 平均 (dB)"),
    "ev.improvement": ("SI-SNR improvement, mean (dB)", "SI-SNR 平均改善 (dB)"),
    "ev.std": ("SI-SNR improvement, std (dB)", "SI-SNR 改善標準差 (dB)"),
    "ev.min": ("SI-SNR improvement, worst (dB)", "SI-SNR 改善最差值 (dB)"),
    "ev.max": ("SI-SNR improvement, best (dB)", "SI-SNR 改善最佳值 (dB)"),
    "ev.degraded": ("Utterances made worse", "變差的樣本比例"),
    "ev.failed": ("Utterances that failed", "評估失敗的樣本"),
    "ev.other": ("{metric}{unit}, mean: noisy → enhanced (change)",
                 "{metric}{unit} 平均：帶噪 → 增強後（變化）"),
    "exp.range": ("{low:.0f} to {high:.0f}", "{low:.0f} 至 {high:.0f}"),
    "exp.at_least": ("≥ {value:.0f}", "≥ {value:.0f}"),
    "exp.at_most": ("≤ {value:.0f}", "≤ {value:.0f}"),
    "exp.above_noisy": ("≥ noisy + {value:.0f}", "≥ 帶噪 + {value:.0f}"),
    "exp.share_below": ("< {value:.0%}", "< {value:.0%}"),
    "exp.zero": ("none", "無"),
    "exp.higher": ("higher than noisy", "高於帶噪"),
    "exp.lower": ("lower than noisy", "低於帶噪"),
    "exp.target": ("{value:+.0f} ± {tol:.0f}", "{value:+.0f} ± {tol:.0f}"),
    "utt.why": ("Listed because the improvement varies widely (std {std:.2f} dB): listen to these "
                "first.",
                "由於改善量變異大（標準差 {std:.2f} dB）而列出：請優先試聽這些樣本。"),
    "utt.worst": ("Worst", "最差"),
    "utt.best": ("Best", "最佳"),
    # --- diagnosis -----------------------------------------------------------------------------
    "diag.data_broken": (
        "**The data is broken, not the model.** The noisy inputs score {noisy:.1f} dB SI-SNR "
        "against their own clean references, before any model is involved; correctly paired "
        "noisy speech scores about {low:.0f} to {high:.0f} dB. Far below that the two signals of "
        "a pair are practically unrelated: misaligned, mispaired or at different sample rates. "
        "The training symptoms follow from this: no model can learn to turn an input into an "
        "unrelated target, so a flat curve here is not convergence.",
        "**問題在資料，而不是模型。** 帶噪輸入相對於其自身的乾淨參考，SI-SNR 為 {noisy:.1f} dB，"
        "這個數字與模型完全無關；正確配對的帶噪語音約為 {low:.0f} 至 {high:.0f} dB。遠低於此範圍"
        "表示每組配對的兩個訊號幾乎無關：錯位、配錯或取樣率不同。訓練上的症狀皆由此而來：任何模型"
        "都無法把輸入轉換成與之無關的目標，因此這裡平坦的曲線並不是收斂。"),
    "diag.consequences": ("Consequences of the broken data rather than separate causes: {codes}.",
                          "以下為資料損壞的後果，而非獨立的原因：{codes}。"),
    "diag.not_learning": (
        "**The model does not learn.** The data checks available here found nothing abnormal, "
        "so look at the loss (sign, matching shapes), the learning rate and the model output. "
        "Findings: {codes}.",
        "**模型沒有學習。** 此處可用的資料檢查未發現異常，請檢查損失函數（正負號、形狀是否一致）、"
        "學習率與模型輸出。相關發現：{codes}。"),
    "diag.suspicious": ("**Trained, with problems to look at:** {codes}.",
                        "**訓練有效，但有需要注意的問題：** {codes}。"),
    "diag.healthy": ("**Healthy.** No rule fired at warning or error level.",
                     "**健康。** 沒有任何規則觸發警告或錯誤。"),
    "diag.best": ("Best validation SI-SNR {valid:.2f} dB at epoch {epoch}.",
                  "最佳驗證 SI-SNR 為 {valid:.2f} dB（epoch {epoch}）。"),
    "diag.eval": ("Mean SI-SNR improvement on the evaluation set {imp:+.2f} dB over {n} "
                  "utterances.",
                  "評估集平均 SI-SNR 改善 {imp:+.2f} dB（共 {n} 句）。"),
    "diag.no_identity": ("Neither an evaluation folder nor `valid_noisy_sisnr` is available, so "
                         "the data pairs themselves could not be checked.",
                         "既沒有評估資料夾也沒有 `valid_noisy_sisnr`，因此無法檢查資料配對本身。"),
    "rec.after_data": ("After the data is fixed: {text}", "資料修正之後：{text}"),
    "rec.none": ("Nothing to fix; keep the best checkpoint (epoch {epoch}).",
                 "沒有需要修正的問題；保留最佳檢查點（epoch {epoch}）。"),
    "plots.none": ("No plot could be drawn (missing columns).", "無法繪製任何圖表（缺少欄位）。"),
    "plot.sisnr": ("SI-SNR per epoch", "每個 epoch 的 SI-SNR"),
    "plot.lr": ("Learning rate (log axis)", "學習率（對數軸）"),
    "plot.grad_norm": ("Gradient norm (log axis)", "梯度範數（對數軸）"),
    "plot.memory_throughput": ("Memory and throughput", "記憶體與吞吐量"),
    "missing.note": ("Not present in this run: {items}.", "本次訓練缺少：{items}。"),
    # --- findings ------------------------------------------------------------------------------
    "finding.eval_noisy_sisnr_abnormal": (
        "The noisy inputs score {noisy_sisnr_mean:.1f} dB SI-SNR against their clean references "
        "(normal: {low_db:.0f} to {high_db:.0f} dB; {n} utterances). This does not involve the "
        "model: the noisy/clean pairs are misaligned, mispaired or at the wrong sample rate. Run "
        "`tfgridnet check-data` on the manifest.",
        "帶噪輸入相對於乾淨參考的 SI-SNR 為 {noisy_sisnr_mean:.1f} dB（正常範圍：{low_db:.0f} 至 "
        "{high_db:.0f} dB；共 {n} 句）。這與模型無關：帶噪/乾淨配對錯位、配錯或取樣率錯誤。請對"
        "資料清單執行 `tfgridnet check-data`。"),
    "finding.noisy_baseline_abnormal": (
        "During training the noisy validation inputs scored {valid_noisy_sisnr:.1f} dB SI-SNR "
        "against their clean references (median over epochs; normal: {low_db:.0f} to "
        "{high_db:.0f} dB): the training pairs are broken. Run `tfgridnet check-data`.",
        "訓練期間，驗證集帶噪輸入相對於乾淨參考的 SI-SNR 為 {valid_noisy_sisnr:.1f} dB（各 epoch "
        "中位數；正常範圍：{low_db:.0f} 至 {high_db:.0f} dB）：訓練資料配對已損壞。請執行 "
        "`tfgridnet check-data`。"),
    "finding.eval_no_improvement": (
        "Mean SI-SNR improvement is {sisnr_improvement_mean:+.2f} dB (under {threshold_db:.0f} "
        "dB): the model does practically nothing.",
        "平均 SI-SNR 改善為 {sisnr_improvement_mean:+.2f} dB（低於 {threshold_db:.0f} dB）："
        "模型幾乎沒有作用。"),
    "finding.eval_low_improvement": (
        "Mean SI-SNR improvement is {sisnr_improvement_mean:+.2f} dB, under the "
        "{threshold_db:.0f} dB expected of a working enhancement model.",
        "平均 SI-SNR 改善為 {sisnr_improvement_mean:+.2f} dB，低於有效增強模型應有的 "
        "{threshold_db:.0f} dB。"),
    "finding.model_worse_than_identity.evaluation": (
        "The enhanced output ({model_sisnr:.2f} dB) scores lower than the unprocessed input "
        "({identity_sisnr:.2f} dB): doing nothing would be better.",
        "增強後輸出（{model_sisnr:.2f} dB）比未處理的輸入（{identity_sisnr:.2f} dB）還差："
        "什麼都不做反而更好。"),
    "finding.model_worse_than_identity.mos": (
        "Without clean references, the enhanced output ({metric} {model_score:.2f}) scores lower "
        "than the unprocessed input ({identity_score:.2f}): doing nothing would be better.",
        "在沒有乾淨參考的情況下，增強後輸出（{metric} {model_score:.2f}）比未處理的輸入"
        "（{identity_score:.2f}）還差：什麼都不做反而更好。"),
    "finding.eval_no_reference": (
        "The evaluation set has no clean references: it was scored by non-intrusive metrics only "
        "({metric}: noisy {noisy_mean:.2f} → enhanced {enhanced_mean:.2f}). Not measured: "
        "{skipped}; no SI-SNR statement can be made about this set.",
        "評估集沒有乾淨參考：只以非侵入式指標評分（{metric}：帶噪 {noisy_mean:.2f} → 增強後 "
        "{enhanced_mean:.2f}）。未量測：{skipped}；無法對此資料集做任何 SI-SNR 的判斷。"),
    "finding.model_worse_than_identity.training": (
        "Even the best validation epoch ({model_sisnr:.2f} dB) scores lower than the unprocessed "
        "input ({identity_sisnr:.2f} dB).",
        "即使最佳驗證 epoch（{model_sisnr:.2f} dB）也比未處理的輸入（{identity_sisnr:.2f} dB）差。"),
    "finding.eval_high_variance": (
        "SI-SNR improvement varies widely: std {sisnr_improvement_std:.2f} dB (threshold "
        "{threshold_db:.0f} dB), from {improvement_min:+.2f} to {improvement_max:+.2f} dB. Worst "
        "utterances: {worst_uttids}.",
        "SI-SNR 改善量變異很大：標準差 {sisnr_improvement_std:.2f} dB（門檻 {threshold_db:.0f} "
        "dB），範圍 {improvement_min:+.2f} 至 {improvement_max:+.2f} dB。最差樣本：{worst_uttids}。"),
    "finding.eval_worse_than_input": (
        "{n_degraded} of {n} utterances ({degraded_share:.0%}) come out worse than the input "
        "(threshold {threshold_share:.0%}).",
        "{n} 句中有 {n_degraded} 句（{degraded_share:.0%}）處理後比輸入更差（門檻 "
        "{threshold_share:.0%}）。"),
    "finding.eval_failed_utterances": (
        "{n_failed} of {n} utterances could not be evaluated.",
        "{n} 句中有 {n_failed} 句無法評估。"),
    "finding.eval_output_level_off": (
        "The enhanced speech comes out {level_error_db:+.1f} dB from the clean speech's level "
        "(mean RMS level error over {n} utterances; the noisy input is at "
        "{noisy_level_error_db:+.1f} dB; threshold ±{threshold_db:.0f} dB). Listeners hear it "
        "too quiet or too loud, and level-sensitive metrics (SNR) count the gain as error.",
        "增強後語音的音量與乾淨語音相差 {level_error_db:+.1f} dB（{n} 句的平均 RMS 音量誤差；"
        "帶噪輸入為 {noisy_level_error_db:+.1f} dB；門檻 ±{threshold_db:.0f} dB）。聽者會覺得太小聲"
        "或太大聲，對音量敏感的指標（SNR）也會把這個增益算成誤差。"),
    "finding.eval_snr_sisnr_disagree": (
        "SNR falls ({noisy_snr:.2f} → {enhanced_snr:.2f} dB, {snr_improvement:+.2f} dB) while "
        "SI-SNR rises ({sisnr_improvement:+.2f} dB): SNR counts the output's gain, SI-SNR ignores "
        "it, so the output is at the wrong level (mean level error {level_error_db:+.1f} dB), "
        "not worse speech.",
        "SNR 下降（{noisy_snr:.2f} → {enhanced_snr:.2f} dB，{snr_improvement:+.2f} dB），而 SI-SNR "
        "上升（{sisnr_improvement:+.2f} dB）：SNR 會計入輸出的增益，SI-SNR 則忽略它，因此問題在於"
        "輸出音量不對（平均音量誤差 {level_error_db:+.1f} dB），而不是語音變差。"),
    "finding.train_not_learning.identity": (
        "Not learning: the best validation SI-SNR ({valid_best:.2f} dB, epoch {best_epoch}) is "
        "{gain_db:+.2f} dB relative to the noisy input (a gain of at least {threshold_db:.0f} dB "
        "expected).",
        "模型沒有學習：最佳驗證 SI-SNR（{valid_best:.2f} dB，epoch {best_epoch}）相對於帶噪輸入為 "
        "{gain_db:+.2f} dB（預期至少提升 {threshold_db:.0f} dB）。"),
    "finding.train_not_learning.negative": (
        "Not learning: validation SI-SNR stayed below 0 dB in all {n_epochs} epochs (best "
        "{valid_best:.2f} dB at epoch {best_epoch}, mean {valid_mean:.2f} dB).",
        "模型沒有學習：全部 {n_epochs} 個 epoch 的驗證 SI-SNR 都低於 0 dB（最佳 {valid_best:.2f} "
        "dB，epoch {best_epoch}；平均 {valid_mean:.2f} dB）。"),
    "finding.train_not_learning.flat": (
        "Not learning: after {n_epochs} epochs the best validation SI-SNR ({valid_best:.2f} dB, "
        "epoch {best_epoch}) is only {gain_db:+.2f} dB above the first epoch's "
        "({valid_first:.2f} dB; at least {threshold_db:.0f} dB expected).",
        "模型沒有學習：訓練 {n_epochs} 個 epoch 後，最佳驗證 SI-SNR（{valid_best:.2f} dB，epoch "
        "{best_epoch}）僅比第一個 epoch（{valid_first:.2f} dB）高 {gain_db:+.2f} dB（預期至少 "
        "{threshold_db:.0f} dB）。"),
    "finding.train_loss_positive": (
        "Training SI-SNR was negative in every epoch (best {train_best:.2f} dB, mean "
        "{train_mean:.2f} dB over {n_epochs} epochs): the loss (= −SI-SNR) stayed positive, the "
        "outputs never resembled the targets.",
        "每個 epoch 的訓練 SI-SNR 都是負值（{n_epochs} 個 epoch 中最佳 {train_best:.2f} dB，平均 "
        "{train_mean:.2f} dB）：損失（= −SI-SNR）始終為正，輸出從未接近目標。"),
    "finding.lr_decay_too_fast": (
        "The learning rate fell from {lr_initial:.2e} to {lr_final:.2e} ({lr_ratio:,.1f}×). It "
        "was under 1/{ratio_threshold:,.0f} of its initial value from epoch {epoch} on, leaving "
        "{epochs_left} epochs ({share_left:.0%} of the run) with almost no learning.",
        "學習率從 {lr_initial:.2e} 降到 {lr_final:.2e}（{lr_ratio:,.1f}×）。自 epoch {epoch} 起"
        "已低於初始值的 1/{ratio_threshold:,.0f}，其後 {epochs_left} 個 epoch（佔全程 "
        "{share_left:.0%}）幾乎沒有學習。"),
    "finding.stale_best_epoch": (
        "The best epoch was {best_epoch} ({valid_best:.2f} dB); the {epochs_after_best} epochs "
        "after it never beat it. Early stopping with patience {patience} would have saved "
        "{saved_hours:.1f} of {total_hours:.1f} hours.",
        "最佳 epoch 為 {best_epoch}（{valid_best:.2f} dB）；之後的 {epochs_after_best} 個 epoch "
        "都未能超越。若以 patience {patience} 提前停止，{total_hours:.1f} 小時中可省下 "
        "{saved_hours:.1f} 小時。"),
    "finding.overfitting": (
        "Overfitting: over the last {window} epochs train SI-SNR is {train_end:.2f} dB but valid "
        "{valid_end:.2f} dB (gap {gap_db:.2f} dB, threshold {gap_threshold_db:.0f} dB), and valid "
        "fell {valid_drop_db:.2f} dB below its best ({valid_best:.2f} dB, epoch {best_epoch}).",
        "過擬合：最後 {window} 個 epoch 的訓練 SI-SNR 為 {train_end:.2f} dB，驗證為 "
        "{valid_end:.2f} dB（差距 {gap_db:.2f} dB，門檻 {gap_threshold_db:.0f} dB），且驗證值比"
        "最佳值（{valid_best:.2f} dB，epoch {best_epoch}）下降了 {valid_drop_db:.2f} dB。"),
    "finding.frequent_clipping": (
        "Gradients were clipped on {clipped_share:.0%} of steps ({clipped_steps:,.0f} of "
        "{total_steps:,.0f}; threshold {threshold_share:.0%}). Clip norm {grad_clip:g} against a "
        "median gradient norm of {grad_mean_median:,.2f}: the clip, not the learning rate, sets "
        "the step size.",
        "{clipped_share:.0%} 的步數發生梯度裁剪（{total_steps:,.0f} 步中有 {clipped_steps:,.0f} "
        "步；門檻 {threshold_share:.0%}）。裁剪門檻 {grad_clip:g}，而梯度範數中位數為 "
        "{grad_mean_median:,.2f}：決定更新步長的是裁剪，而不是學習率。"),
    "finding.gradient_spikes": (
        "Gradient spike: norm {grad_max:,.1f} at epoch {epoch}, {factor:,.0f}× the median "
        "epoch-mean norm ({grad_mean_median:,.2f}; threshold {factor_threshold:.0f}×). Last "
        "epoch's largest norm: {grad_max_last:,.1f}.",
        "梯度尖峰：epoch {epoch} 的梯度範數達 {grad_max:,.1f}，為每 epoch 平均範數中位數"
        "（{grad_mean_median:,.2f}）的 {factor:,.0f}×（門檻 {factor_threshold:.0f}×）。最後一個 "
        "epoch 的最大範數：{grad_max_last:,.1f}。"),
    "finding.nonfinite_steps": (
        "{nonfinite_steps:,.0f} optimizer steps had a non-finite (NaN/inf) loss or gradient, in "
        "{epochs} epochs ({share:.2%} of steps; error from {error_share:.0%}).",
        "{epochs} 個 epoch 中共有 {nonfinite_steps:,.0f} 個最佳化步驟出現非有限值（NaN/inf）的"
        "損失或梯度（佔 {share:.2%}；達 {error_share:.0%} 視為錯誤）。"),
    "finding.memory_headroom": (
        "Peak memory {peak_mem_gb:.2f} GB of {device_mem_gb:.2f} GB ({share:.0%}, under "
        "{threshold_share:.0%}): room for a larger batch or model.",
        "峰值記憶體 {peak_mem_gb:.2f} GB / {device_mem_gb:.2f} GB（{share:.0%}，低於 "
        "{threshold_share:.0%}）：可加大 batch 或模型。"),
    "finding.memory_near_limit": (
        "Peak memory {peak_mem_gb:.2f} GB of {device_mem_gb:.2f} GB ({share:.0%}, over "
        "{threshold_share:.0%}): close to running out of memory.",
        "峰值記憶體 {peak_mem_gb:.2f} GB / {device_mem_gb:.2f} GB（{share:.0%}，超過 "
        "{threshold_share:.0%}）：接近記憶體不足。"),
    "finding.insufficient_evidence": (
        "Neither a validation SI-SNR nor an evaluation folder: {n_epochs} epochs of training "
        "cannot show whether the model enhances anything.",
        "既沒有驗證 SI-SNR 也沒有評估資料夾：{n_epochs} 個 epoch 的訓練紀錄無法顯示模型是否真的"
        "有增強效果。"),
    "finding.missing_data": (
        "Not in this run ({n_missing} items): {missing}. Sections that need them say so.",
        "本次訓練缺少（{n_missing} 項）：{missing}。需要這些資料的章節會註明。"),
    # --- recommendations -----------------------------------------------------------------------
    "rec.eval_noisy_sisnr_abnormal": (
        "Fix the data first: run `tfgridnet check-data MANIFEST` on the training, validation and "
        "test manifests and repair every pair it reports (alignment, pairing, sample rate), then "
        "retrain from scratch. Nothing learned from these pairs is worth keeping.",
        "先修正資料：對訓練、驗證與測試的資料清單執行 `tfgridnet check-data MANIFEST`，修正它回報的"
        "每一組配對（對齊、配對、取樣率），然後從頭重新訓練。從這些配對學到的東西都不值得保留。"),
    "rec.noisy_baseline_abnormal": (
        "Run `tfgridnet check-data` on the training and validation manifests before any other "
        "change; `tfgridnet train` runs it at start-up and refuses broken pairs unless told "
        "otherwise.",
        "在做任何其他修改之前，先對訓練與驗證資料清單執行 `tfgridnet check-data`；"
        "`tfgridnet train` 啟動時也會執行此檢查，除非另行指定，否則會拒絕損壞的配對。"),
    "rec.eval_no_improvement": (
        "Check that the loss is −SI-SNR of (estimate, clean) with matching shapes and that the "
        "model outputs the enhanced waveform; overfit a handful of utterances first.",
        "確認損失為 (估計, 乾淨) 的 −SI-SNR 且形狀一致、模型輸出的是增強後波形；先讓模型在少量"
        "樣本上過擬合。"),
    "rec.eval_low_improvement": (
        "Look for the subset that drags the mean down in the per-utterance table, then train "
        "longer or with more varied noise (dynamic mixing).",
        "在逐句結果表中找出拉低平均值的子集，然後延長訓練或使用更多樣的噪音（動態混合）。"),
    "rec.model_worse_than_identity": (
        "Do not use this model: it degrades its input. Check the output scaling and that "
        "evaluation feeds the model what it was trained on (sample rate, normalisation).",
        "不要使用此模型：它會讓輸入變差。檢查輸出縮放，以及評估時餵給模型的資料是否與訓練一致"
        "（取樣率、正規化）。"),
    "rec.eval_high_variance": (
        "Listen to the worst utterances ({worst_uttids}) and run `tfgridnet check-data` on their "
        "pairs.",
        "試聽最差的樣本（{worst_uttids}），並對其配對執行 `tfgridnet check-data`。"),
    "rec.eval_worse_than_input": (
        "Inspect the degraded utterances ({n_degraded}): broken pairs, clipped inputs, or "
        "conditions absent from training.",
        "檢查變差的樣本（{n_degraded} 句）：配對損壞、輸入削波，或訓練中沒有的情況。"),
    "rec.eval_failed_utterances": (
        "Read the evaluation log for the {n_failed} failed utterances (unreadable, too short, "
        "wrong sample rate).",
        "查看評估日誌中 {n_failed} 句失敗樣本的原因（無法讀取、太短、取樣率錯誤）。"),
    "rec.eval_output_level_off": (
        "Evaluate and enhance with level correction on (the default; drop `--raw-level`, or "
        "`level=True` in Python): it rescales each output onto its input, so the speech comes "
        "out at its own level ({level_error_db:+.1f} dB now).",
        "評估與增強時開啟音量校正（預設即開啟；請移除 `--raw-level`，或在 Python 中使用 "
        "`level=True`）：它會把每個輸出依其輸入重新縮放，讓語音回到原本的音量（目前為 "
        "{level_error_db:+.1f} dB）。"),
    "rec.eval_snr_sisnr_disagree": (
        "Read SI-SNR for separation quality and the level error for loudness; fix the level "
        "(see `eval_output_level_off`) before comparing SNR.",
        "以 SI-SNR 判斷分離品質、以音量誤差判斷音量；比較 SNR 之前先修正音量（見 "
        "`eval_output_level_off`）。"),
    "rec.eval_no_reference": (
        "For SI-SNR, PESQ and the level error, evaluate on a set with clean references too "
        "(e.g. the demo test set or your own paired recordings).",
        "若需 SI-SNR、PESQ 與音量誤差，請另外在有乾淨參考的資料集上評估（例如 demo 測試集或您"
        "自己的配對錄音）。"),
    "rec.train_not_learning": (
        "Before another long run, overfit a small subset (a few utterances) to prove that data, "
        "loss and model can learn at all.",
        "在下一次長時間訓練之前，先在少量樣本上過擬合，證明資料、損失與模型確實能夠學習。"),
    "rec.train_loss_positive": (
        "A loss (= −SI-SNR) that stays positive means outputs and targets are unrelated: check the "
        "pairs and the loss sign before tuning anything else.",
        "損失（= −SI-SNR）始終為正代表輸出與目標無關：在調整其他參數前，先檢查資料配對與損失正負號。"),
    "rec.lr_decay_too_fast": (
        "Slow the schedule: decay over the planned number of epochs (e.g. cosine to about 1/100 "
        "of the initial rate) or decay on plateau with a floor.",
        "放慢學習率調度：在預定的 epoch 數內衰減（例如 cosine 衰減到初始值的約 1/100），或使用"
        "設有下限的 plateau 衰減。"),
    "rec.stale_best_epoch": (
        "Enable early stopping on valid_sisnr with patience {patience} epochs, and keep only the "
        "top-k checkpoints.",
        "啟用以 valid_sisnr 為準、patience 為 {patience} 個 epoch 的提前停止，並只保留 top-k "
        "檢查點。"),
    "rec.overfitting": (
        "Add data or augmentation (dynamic mixing), weight decay or dropout; keep the checkpoint "
        "of epoch {best_epoch}.",
        "增加資料或資料增強（動態混合）、weight decay 或 dropout；保留 epoch {best_epoch} 的檢查點。"),
    "rec.frequent_clipping": (
        "Raise the clip norm towards the typical gradient norm ({grad_mean_median:,.2f}) or lower "
        "the learning rate; a clip that fires on nearly every step hides the learning rate.",
        "將裁剪門檻提高到接近一般的梯度範數（{grad_mean_median:,.2f}），或降低學習率；幾乎每一步"
        "都觸發的裁剪會掩蓋學習率的作用。"),
    "rec.gradient_spikes": (
        "Use a learning-rate warm-up and check the batches of epoch {epoch} for silent or broken "
        "files.",
        "使用學習率 warm-up，並檢查 epoch {epoch} 的 batch 是否含有靜音或損壞的檔案。"),
    "rec.nonfinite_steps": (
        "Find the batches with a non-finite loss (silent references, bf16 overflow) and skip them "
        "or compute the loss in fp32.",
        "找出損失為非有限值的 batch（靜音參考、bf16 溢位），略過它們或以 fp32 計算損失。"),
    "rec.memory_headroom": (
        "Raise the batch size or the model size (memory use {share:.0%}).",
        "加大 batch size 或模型容量（記憶體使用率 {share:.0%}）。"),
    "rec.memory_near_limit": (
        "Lower the batch size or crop length, or enable gradient checkpointing.",
        "降低 batch size 或裁切長度，或啟用 gradient checkpointing。"),
    "rec.insufficient_evidence": (
        "Log `valid_sisnr` and `valid_noisy_sisnr` during training, or run `tfgridnet evaluate` "
        "and pass its folder with `--eval`.",
        "訓練時記錄 `valid_sisnr` 與 `valid_noisy_sisnr`，或執行 `tfgridnet evaluate` 並以 "
        "`--eval` 指定其輸出資料夾。"),
    "rec.missing_data": (
        "Log the missing items ({missing}) so that the next report can check them.",
        "記錄缺少的項目（{missing}），讓下一份報告能檢查它們。"),
}


class _Formatter(string.Formatter):
    """str.format that writes a dash for missing numbers instead of failing on None/NaN."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        if isinstance(value, str) and format_spec and format_spec[-1] in "efgd%,":
            return value
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def tr(key: str, lang: str = "en", **values: Any) -> str:
    """The sentence ``key`` in ``lang`` with ``values`` filled in."""
    if lang not in LANGUAGES:
        raise ValueError(f"report language {lang!r} not supported; choose one of {LANGUAGES}")
    try:
        text = STRINGS[key][LANGUAGES.index(lang)]
    except KeyError:
        raise KeyError(f"report text {key!r} missing from report/i18n.py") from None
    return _FORMATTER.format(text, **values)


def fmt(value: Any, spec: str = ".2f") -> str:
    """One number for a table cell, the same in every language."""
    return _FORMATTER.format_field(value, spec)
