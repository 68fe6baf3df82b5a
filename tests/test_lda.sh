#!/bin/sh
# test_lda.sh — topic models from the command line: elbo lda prepare on a
# folder of text (chunks, split, vocabulary), elbo lda train with its
# outputs, topics, infer (lda-c and text), eval (a checkpoint, and a lambda
# from elsewhere, which must agree), exact --resume, and bad input refused
# with the file, the line and the reason.
. tests/lib.sh
E=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo-test-lda-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/txt"
# three "speeches" about three subjects, sentences of a few words
i=0
while [ $i -lt 40 ]; do
    echo "The army and the navy guard the coast. Soldiers and sailors serve the nation well. The fleet sails at dawn."
    echo "Farmers grow wheat and corn on the plains. The harvest feeds the cities. Rain helps the crops grow."
    i=$((i + 1))
done | tr '\n' ' ' > "$T/txt/a.txt"
i=0
while [ $i -lt 40 ]; do
    echo "The treasury collects taxes and pays the debt. Banks lend money at interest. The budget balances revenue."
    echo "The navy builds ships. Sailors train at sea. Farmers sell corn to the army."
    i=$((i + 1))
done | tr '\n' ' ' > "$T/txt/b.txt"
printf 'Schools teach children to read. Teachers and students fill the schools. Children learn history. %.0s' $(seq 40) > "$T/txt/c.txt"
P="$T/prep"
expect_rc 0 "prepare" "$E" lda prepare --input "$T/txt" --out "$P" --chunk 20 --min-df 2 --max-df 0.9 --test-fraction 0.2
check "prepare writes lda-c, vocabulary, names and a summary" test -s "$P/train.ldac" -a -s "$P/test.ldac" -a -s "$P/vocab.txt" -a -s "$P/train.docs.txt" -a -s "$P/prepare.json"
check "stop words are out of the vocabulary" sh -c "! grep -qx 'the' '$P/vocab.txt' && ! grep -qx 'and' '$P/vocab.txt' && grep -qx 'navy' '$P/vocab.txt'"
check "chunk names" grep -q '^a.txt#2$' "$P/train.docs.txt" "$P/test.docs.txt"
check "one line per document" sh -c "[ \$(wc -l < '$P/train.ldac') = \$(wc -l < '$P/train.docs.txt') ]"
check "the vocabulary is sorted" sh -c "LC_ALL=C sort -c '$P/vocab.txt'"
check "prepare.json counts the documents" grep -q '"train_documents":' "$P/prepare.json"

R="$T/run"
expect_rc 0 "train" "$E" lda train --data "$P/train.ldac" --test "$P/test.ldac" --topics 3 --epochs 4 --method online --batch 8 --estimate-alpha 0 --threads 2 --out "$R"
check "one metrics line per pass, with the held-out figures" sh -c "[ \$(wc -l < '$R/metrics.jsonl') = 4 ] && grep -q test_perplexity_docs '$R/metrics.jsonl' && grep -q completion_perplexity '$R/metrics.jsonl' && grep -q coherence_umass '$R/metrics.jsonl'"
check "outputs" test -s "$R/topics.json" -a -s "$R/lambda.npy" -a -s "$R/alpha.npy" -a -s "$R/theta_train.npy" -a -s "$R/theta_test.npy" -a -s "$R/vocab.txt"
check "topics.json has every topic" sh -c "[ \$(wc -l < '$R/topics.json') = 3 ]"
expect_rc 0 "topics" "$E" lda topics --model "$R" --top 5
check "topics lists 3 topics of 5 words with their shares" sh -c "[ \$(grep -c '^topic' '$T/out.txt') = 3 ] && awk '/^topic/ && NF != 8 {exit 1}' '$T/out.txt'"
check "the shares add up to 100%" sh -c "sed 's/.*(\\([0-9. ]*\\)%).*/\\1/' '$T/out.txt' | awk '{s += \$1} END {exit !(s > 99.7 && s < 100.3)}'"
expect_rc 0 "topics --json" "$E" lda topics --model "$R" --json
check "topics --json" grep -q '"words":\[' "$T/out.txt"
expect_rc 0 "infer lda-c" "$E" lda infer --model "$R" --input "$P/test.ldac" --out "$T/theta.npy"
check "theta of the test set equals the run's" cmp -s "$T/theta.npy" "$R/theta_test.npy"
expect_rc 0 "infer text" "$E" lda infer --model "$R" --input "$T/txt" --out "$T/theta_txt.npy"
check "infer text names its rows" sh -c "[ \$(wc -l < '$T/theta_txt.npy.docs.txt') = 3 ]"
expect_rc 0 "eval --model" "$E" lda eval --model "$R" --data "$P/test.ldac" --train-data "$P/train.ldac" --json
cp "$T/out.txt" "$T/eval_model.json"
expect_rc 0 "eval --lambda" "$E" lda eval --lambda "$R/lambda.npy" --data "$P/test.ldac" --train-data "$P/train.ldac" --json
check "the same lambda from .npy gives the same figures" cmp -s "$T/out.txt" "$T/eval_model.json"
check "eval reports every figure" grep -q '"perplexity":.*"completion_perplexity":.*"coherence_umass":' "$T/out.txt"

# exact resume: 2 passes, then 2 more, against 4 straight (same threads)
expect_rc 0 "train 2 passes" "$E" lda train --data "$P/train.ldac" --test "$P/test.ldac" --topics 3 --epochs 2 --method online --batch 8 --estimate-alpha 0 --threads 2 --out "$T/r2"
expect_rc 0 "resume to 4" "$E" train --resume --epochs 4 --out "$T/r2"
check "resumed lambda equals the uninterrupted run's" cmp -s "$T/r2/lambda.npy" "$R/lambda.npy"
expect_rc 0 "batch VI" "$E" lda train --data "$P/train.ldac" --no-test --topics 3 --epochs 3 --method batch --estimate-alpha 1 --out "$T/rb" --quiet
check "batch VI has one step per pass" sh -c "grep -q '\"step\":3' '$T/rb/metrics.jsonl'"

# a test set of one-word documents: nothing to score in document completion, null in the metrics
printf '1 0:1\n1 1:1\n' > "$T/one.ldac"
expect_rc 0 "train with one-word test documents" "$E" lda train --data "$P/train.ldac" --test "$T/one.ldac" --vocab "$P/vocab.txt" --topics 2 --epochs 1 --out "$T/r1" --quiet
check "a figure with nothing to score is null, the line valid JSON" sh -c "grep -q '\"completion_perplexity\":null' '$T/r1/metrics.jsonl' && ! grep -qi 'nan\|inf' '$T/r1/metrics.jsonl'"
expect_rc 0 "eval --json with nothing to score" "$E" lda eval --model "$R" --data "$T/one.ldac" --json
check "eval --json writes null" grep -q '"completion_perplexity":null' "$T/out.txt"

# bad input
printf 'Good words here.\nbad \377 byte\n' > "$T/bad.txt"
expect_rc 1 "prepare: invalid UTF-8" "$E" lda prepare --input "$T/bad.txt" --out "$T/x"
check "invalid UTF-8: file, line, byte" err_has "bad.txt: line 2, byte 5: not valid UTF-8"
expect_rc 1 "prepare: empty vocabulary" "$E" lda prepare --input "$T/txt" --out "$T/x" --min-df 1000
check "empty vocabulary named" err_has "vocabulary is empty"
printf '2 0:1 99:2\n' > "$T/bad.ldac"
expect_rc 1 "infer: an id outside the vocabulary" "$E" lda infer --model "$R" --input "$T/bad.ldac"
check "id outside the vocabulary named" err_has "bad.ldac: word id 99 is outside the model"
cp "$P/vocab.txt" "$T/vocab.txt"; printf '2 0:1 3:-2\n' > "$T/neg.ldac"
expect_rc 1 "train: a negative count" "$E" lda train --data "$T/neg.ldac" --no-test --topics 2 --out "$T/x2"
check "negative count: file, line, pair" err_has "neg.ldac: line 1, pair 2: a negative count"
expect_rc 2 "train: an option of another kind" "$E" lda train --data "$P/train.ldac" --lr 0.1 --out "$T/x3"
check "--lr is not an LDA option" err_has "not an option of --kind lda"
expect_rc 1 "train: dense data" "$E" lda train --data data/mnist --topics 2 --no-test --out "$T/x4" --train-limit 10
check "dense data refused" err_has "word counts"
expect_rc 2 "eval needs data" "$E" lda eval --model "$R"
finish test_lda_cli
