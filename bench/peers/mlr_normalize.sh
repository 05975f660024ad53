#!/bin/sh
# Peer: Miller (mlr), row-wise L2 normalization of every numeric field.
# usage: sh mlr_normalize.sh INPUT.csv OUTPUT.csv
exec mlr --icsv --ocsv --ofmt '%.17lg' put '
  var s = 0.0;
  for (k, v in $*) { if (is_numeric(v)) { s += v * v } }
  var n = sqrt(s);
  for (k, v in $*) { if (is_numeric(v)) { $[k] = v / n } }
' "$1" > "$2"
