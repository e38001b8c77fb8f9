#!/usr/bin/env bash
# Make the figures of docs/en/user_guides/visualization.md on SynthReID, on
# the CPU: train the tiny TransReID, PHA and BoT configs for a few epochs
# (the same seed), then run every visualisation tool on the checkpoints and
# copy the pictures into docs/en/_static/visualization/.
#
# Usage (from the repository root):
#   bash tools/misc/make_vis_figures.sh            # EPOCHS=4 by default
#   EPOCHS=16 WORK=work_dirs/vis bash tools/misc/make_vis_figures.sh
set -euo pipefail

EPOCHS=${EPOCHS:-4}
WORK=${WORK:-work_dirs/vis_figures}
OUT=${OUT:-docs/en/_static/visualization}
TRANSREID=configs/transreid/transreid_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py
PHA=configs/pha/pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py
BOT=configs/bot/bot_r18-tiny_scratch_1xb32-8x4_16e_synthreid-128x64.py

mkdir -p "$WORK" "$OUT"
for name in transreid pha bot; do
  case $name in
    transreid) cfg=$TRANSREID ;;
    pha) cfg=$PHA ;;
    bot) cfg=$BOT ;;
  esac
  if [ ! -f "$WORK/$name/epoch_$EPOCHS.pth" ]; then
    python tools/train.py "$cfg" --work-dir "$WORK/$name" --cfg-options \
      randomness.seed=0 train_cfg.max_epochs="$EPOCHS" \
      train_cfg.val_interval=1 default_hooks.checkpoint.interval="$EPOCHS"
  fi
done
ckpt() { echo "$WORK/$1/epoch_$EPOCHS.pth"; }
log() { ls -d "$WORK/$1"/*/vis_data/scalars.json | tail -n 1; }

# Four query images of four identities.
IMAGES=$(ls data/synthreid/query/*.jpg | awk 'NR % 25 == 1' | head -n 4)

python tools/visualizations/vis_attention.py "$TRANSREID" "$(ckpt transreid)" \
  $IMAGES --out "$WORK/attention_transreid"
python tools/visualizations/vis_attention.py "$PHA" "$(ckpt pha)" \
  $IMAGES --out "$WORK/attention_pha"
python tools/visualizations/vis_attention.py "$BOT" "$(ckpt bot)" \
  $IMAGES --out "$WORK/attention_bot"
python tools/analysis_tools/vis_embedding.py "$PHA" "$(ckpt pha)" \
  --exclude-ids -1 0 --max-ids 12 --out-dir "$WORK/embedding_pha"
python tools/analysis_tools/frequency_similarity.py \
  "$TRANSREID" "$(ckpt transreid)" "$PHA" "$(ckpt pha)" \
  --labels TransReID PHA --num-images 64 --out-dir "$WORK/frequency"
python tools/analysis_tools/analyze_logs.py plot_curve \
  "$(log transreid)" "$(log pha)" --legend TransReID PHA --xaxis epoch --cols 4 \
  --out "$WORK/curves.png"
python tools/analysis_tools/analyze_logs.py cal_train_time \
  "$(log transreid)" "$(log pha)" | tee "$WORK/train_time.txt"

cp "$WORK/attention_transreid/attention_panel.png" "$OUT/attention_transreid.png"
cp "$WORK/attention_pha/attention_panel.png" "$OUT/attention_pha.png"
cp "$WORK/attention_bot/attention_panel.png" "$OUT/gradcam_bot.png"
cp "$WORK/embedding_pha/embedding.png" "$OUT/embedding_pha.png"
cp "$WORK/frequency/frequency_similarity.png" "$OUT/frequency_similarity.png"
cp "$WORK/frequency/frequency_similarity_long.csv" "$OUT/frequency_similarity.csv"
cp "$WORK/curves.png" "$OUT/curves.png"
echo "figures written to $OUT"
