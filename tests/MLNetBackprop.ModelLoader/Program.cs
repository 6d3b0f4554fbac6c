using MLNetBackprop.ModelLoader;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop;

// Usage: MLNetBackprop.ModelLoader <mlnet|library> <model.zip> <data.idv> <binary|multiclass|regression|multiregression> [resave.zip]
// Loads the model in this fresh process — "mlnet": a plain new MLContext().Model.Load; "library":
// mlContext.Backprop().LoadModel — scores the data through Transform, Evaluate and a prediction engine, optionally
// saves the loaded model again, and prints one JSON object with the outputs, the metrics and the timings.
// Or: MLNetBackprop.ModelLoader train-capped <Auto|InMemory> <rows> <features>: see CappedTraining.
if (args.Length == 4 && args[0] == "train-capped") return CappedTraining.Run(args);
if (args.Length < 4)
{
    Console.Error.WriteLine("usage: MLNetBackprop.ModelLoader <mlnet|library> <model.zip> <data.idv> <task> [resave.zip]");
    return 2;
}
string mode = args[0], modelPath = args[1], dataPath = args[2], task = args[3];

var ml = new MLContext(seed: 0);
var sw = Stopwatch.StartNew();
ITransformer model;
DataViewSchema inputSchema;
if (mode == "library") model = ml.Backprop().LoadModel(modelPath, out inputSchema);
else model = ml.Model.Load(modelPath, out inputSchema);
double loadMs = sw.Elapsed.TotalMilliseconds;

var data = ml.Data.LoadFromBinary(dataPath);
var scored = model.Transform(data);
var transform = ScoredRows.Read(scored, task);
var metrics = Evaluate(ml, scored, task);
string? mappedLabels = null;
if (scored.Schema.GetColumnOrNull("PredictedLabelValue") is { } mapped)
    mappedLabels = string.Join("|", ReadAsText(scored, mapped));

sw.Restart();
var engine = Engine.Create(ml, model, inputSchema, data, task);
double engineMs = sw.Elapsed.TotalMilliseconds;
var inputs = Engine.Inputs(ml, data, inputSchema);
sw.Restart();
var first = engine(inputs[0]);
double firstMs = sw.Elapsed.TotalMilliseconds;
var engineRows = inputs.Select(r => engine(r)).ToList();
int repeats = Math.Max(1, 20000 / inputs.Count);
sw.Restart();
for (int rep = 0; rep < repeats; rep++)
    foreach (var r in inputs) engine(r);
double steadyUs = sw.Elapsed.TotalMilliseconds * 1000 / (repeats * inputs.Count);

if (args.Length > 4)
{
    if (mode == "library") ml.Backprop().SaveModel(model, inputSchema, args[4]);
    else ml.Model.Save(model, inputSchema, args[4]);
}
(model as IDisposable)?.Dispose();

var result = new Dictionary<string, object?>
{
    ["modelType"] = Describe(model),
    ["transform"] = transform,
    ["engine"] = engineRows,
    ["metrics"] = metrics,
    ["mappedLabels"] = mappedLabels,
    ["loadMs"] = loadMs,
    ["engineMs"] = engineMs,
    ["firstPredictionMs"] = firstMs,
    ["steadyUsPerRow"] = steadyUs,
};
Console.WriteLine(JsonSerializer.Serialize(result));
return 0;

static string Describe(ITransformer t) => t is IEnumerable<ITransformer> chain
    ? $"{t.GetType().Name}[{string.Join(", ", chain.Select(Describe))}]"
    : t.GetType().Name;

static IEnumerable<string> ReadAsText(IDataView data, DataViewSchema.Column column)
{
    using var cursor = data.GetRowCursor([column]);
    var getter = cursor.GetGetter<float>(column);
    float value = 0;
    while (cursor.MoveNext())
    {
        getter(ref value);
        yield return value.ToString("R", CultureInfo.InvariantCulture);
    }
}

static Dictionary<string, double> Evaluate(MLContext ml, IDataView scored, string task) => task switch
{
    "binary" => ml.BinaryClassification.Evaluate(scored) is var m
        ? new() { ["Auc"] = m.AreaUnderRocCurve, ["Accuracy"] = m.Accuracy, ["LogLoss"] = m.LogLoss, ["F1"] = m.F1Score }
        : [],
    "multiclass" => ml.MulticlassClassification.Evaluate(scored) is var m
        ? new() { ["MicroAccuracy"] = m.MicroAccuracy, ["MacroAccuracy"] = m.MacroAccuracy, ["LogLoss"] = m.LogLoss }
        : [],
    "regression" => ml.Regression.Evaluate(scored) is var m
        ? new() { ["Rmse"] = m.RootMeanSquaredError, ["Mae"] = m.MeanAbsoluteError, ["RSquared"] = m.RSquared }
        : [],
    _ => [],
};
