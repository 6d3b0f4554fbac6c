// What a user who installed the MLNetBackprop package writes: train, evaluate, save, load (with our loader and with
// plain ML.NET, which needs ONNX Runtime's native library at load time) and score. Prints KEY=value lines for the test.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop;

var ml = new MLContext(seed: 1);
var data = ml.Data.LoadFromTextFile(Path.Combine(AppContext.BaseDirectory, "iris.txt"),
    [new TextLoader.Column("Label", DataKind.Single, 0), new TextLoader.Column("Features", DataKind.Single, 1, 4)],
    separatorChar: '\t', hasHeader: true);
var split = ml.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.NormalizeMeanVariance("Features"))
    .Append(ml.MulticlassClassification.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [16], Seed = 1 }));
var model = pipeline.Fit(split.TrainSet);
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
Console.WriteLine(FormattableString.Invariant($"ACCURACY={metrics.MicroAccuracy:F4}"));

string path = Path.Combine(AppContext.BaseDirectory, "model.zip");
ml.Backprop().SaveModel(model, data.Schema, path);
var ours = ml.Backprop().LoadModel(path, out _);
var plain = new MLContext().Model.Load(path, out _);

float[][] Scores(ITransformer m) => m.Transform(split.TestSet).GetColumn<float[]>("Score").ToArray();
var before = Scores(model);
var afterOurs = Scores(ours);
var afterPlain = Scores(plain);
bool identical = before.Zip(afterOurs).All(p => p.First.AsSpan().SequenceEqual(p.Second));
double maxDiff = before.Zip(afterPlain).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
Console.WriteLine($"ROWS={before.Length}");
Console.WriteLine($"LOADED_IDENTICAL={identical}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PLAIN_LOAD_MAX_DIFF={maxDiff:G3}"));
Console.WriteLine($"SUMMARY_FIRST_LINE={model.LastTransformer.ToString().Split('\n')[0].TrimEnd()}");
return identical && maxDiff < 1e-5 ? 0 : 1;
