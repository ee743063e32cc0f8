// SiftEval: evaluation inputs, IR metrics, run files and reports. It consumes rankings and never retrieves:
// the pipeline runs its stages and hands the results in.
//
// BEIR folder:
//     let data = try BEIRDataset.load(folder: url, split: "test", validation: .strict)
//     // embed data.corpus[i].embeddingText (BEIR's `(title + " " + text).strip()`), search data.evaluatedQueries
//     let rankings: Rankings = [queryID: [ScoredID(docID, score), …]]          // any order; scores decide
//     let comparison = StageComparison(title: "beir-mini", qrels: data.qrels,
//                                      stages: [StageRun(name: "dense", rankings: rankings, latenciesMilliseconds: ms)])
//
// Labeled questions for a pipeline's own collection (chunks → targets with MaxP):
//     let labels = try LabeledQuestionSet.load(url)
//     let targets = labels.targetRankings(chunkRankings: [questionID: [RetrievedChunk(documentID:anchor:score:)]])
//     StageComparison(title: …, qrels: labels.qrels, stages: [StageRun(name: "hybrid", rankings: targets, …), …])
//
// Output: comparison.table() (terminal), .json(), .markdown(), .svgChart(), .write(to: folder) (all of them plus
// runs/<stage>.trec). Metrics follow trec_eval/pytrec_eval by default (`MetricConvention`), checked against
// Tests/Fixtures/eval/*reference.json produced by Scripts/eval/*.py.
