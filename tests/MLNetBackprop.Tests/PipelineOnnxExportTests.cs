using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace MLNetBackprop.Tests;

/// <summary>
/// mlContext.Backprop().ExportOnnx(model, data, stream) writes the whole fitted pipeline (ML.NET's featurization wired
/// to the network), which ONNX Runtime scores from the raw input columns like model.Transform does; every pipeline it
/// cannot write correctly is refused with a message that names why.
/// </summary>
public sealed class PipelineOnnxExportTests(ITestOutputHelper output)
{
    // Scores compared as |onnx − Transform| ≤ Tolerance · max(1, |Transform|): float featurization in both, the network in
    // float in ONNX Runtime and in the library.
    private const double Tolerance = 1e-5;

    public sealed class IrisColumns
    {
        public float Label { get; set; }
        public float SepalLength { get; set; }
        public float SepalWidth { get; set; }
        public float PetalLength { get; set; }
        public float PetalWidth { get; set; }
    }

    private static IDataView IrisAsColumns(MLContext ml) => ml.Data.LoadFromEnumerable(
        ml.Data.CreateEnumerable<Datasets.DenseRow>(Datasets.Iris(ml), reuseRowObject: false).Select(r => new IrisColumns
        {
            Label = r.Label, SepalLength = r.Features[0], SepalWidth = r.Features[1], PetalLength = r.Features[2], PetalWidth = r.Features[3],
        }).ToList());

    [Fact]
    public void Binary_BreastCancer_ImputeAndMinMax_MatchesTransformInOnnxRuntime()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.BreastCancer(ml); // 699 rows, 16 missing values
        var model = ml.Transforms.ReplaceMissingValues("Features")
            .Append(ml.Transforms.NormalizeMinMax("Features"))
            .Append(ml.BinaryClassification.Trainers.Backprop(hiddenLayers: [8], maxEpochs: 30))
            .Fit(data);

        using var session = Export(ml, model, data);
        Assert.Equal(["Features"], session.InputMetadata.Keys); // the label is not needed to score
        Assert.Equal(["Score", "Probability", "PredictedLabel"], session.OutputMetadata.Keys);
        var outputs = Run(session, data);
        var scored = model.Transform(data);
        var expected = ml.Data.CreateEnumerable<BinaryScored>(scored, reuseRowObject: false).ToList();

        Assert.Equal(699, expected.Count);
        var score = outputs["Score"].AsTensor<float>();
        var probability = outputs["Probability"].AsTensor<float>();
        var label = outputs["PredictedLabel"].AsTensor<bool>();
        double maxDiff = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            maxDiff = Math.Max(maxDiff, Diff(expected[i].Score, score[i, 0]));
            maxDiff = Math.Max(maxDiff, Diff(expected[i].Probability, probability[i, 0]));
            Assert.Equal(expected[i].PredictedLabel, label[i, 0]);
        }
        output.WriteLine($"max difference {maxDiff:G3}");
        Assert.True(maxDiff <= Tolerance, $"max difference {maxDiff:G3}");
        // Not a constant model: both classes are predicted.
        Assert.Contains(expected, r => r.PredictedLabel);
        Assert.Contains(expected, r => !r.PredictedLabel);
    }

    [Fact]
    public void Multiclass_Iris_ConcatenateMapLabelAndMeanVariance_MatchesTransformInOnnxRuntime()
    {
        var ml = new MLContext(seed: 1);
        var data = IrisAsColumns(ml);
        var model = ml.Transforms.Concatenate("Features", "SepalLength", "SepalWidth", "PetalLength", "PetalWidth")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.Backprop(hiddenLayers: [10], maxEpochs: 40))
            .Fit(data);

        using var session = Export(ml, model, data);
        Assert.Equal(["SepalLength", "SepalWidth", "PetalLength", "PetalWidth"], session.InputMetadata.Keys);
        Assert.Equal(["Score", "PredictedLabel"], session.OutputMetadata.Keys);
        var outputs = Run(session, data);
        var expected = ml.Data.CreateEnumerable<MulticlassScored>(model.Transform(data), reuseRowObject: false).ToList();

        Assert.Equal(150, expected.Count);
        var score = outputs["Score"].AsTensor<float>();
        var label = outputs["PredictedLabel"].AsTensor<long>();
        double maxDiff = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            for (int j = 0; j < 3; j++) maxDiff = Math.Max(maxDiff, Diff(expected[i].Score[j], score[i, j]));
            Assert.Equal(expected[i].PredictedLabel, label[i] + 1); // ML.NET's key is the 0-based index + 1
        }
        output.WriteLine($"max difference {maxDiff:G3}");
        Assert.True(maxDiff <= Tolerance, $"max difference {maxDiff:G3}");
        Assert.Equal(3, expected.Select(r => r.PredictedLabel).Distinct().Count());
    }

    [Fact]
    public void Regression_Housing_MeanVarianceThenMinMax_MatchesTransformInOnnxRuntime()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.Housing(ml);
        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Transforms.NormalizeMinMax("Features"))
            .Append(ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [16], MaxEpochs = 40, Activation = Core.Activation.Relu }))
            .Fit(data);

        using var session = Export(ml, model, data);
        Assert.Equal(["Features"], session.InputMetadata.Keys);
        Assert.Equal(["Score"], session.OutputMetadata.Keys);
        var outputs = Run(session, data);
        var expected = ml.Data.CreateEnumerable<RegressionScored>(model.Transform(data), reuseRowObject: false).ToList();

        Assert.Equal(506, expected.Count);
        var score = outputs["Score"].AsTensor<float>();
        double maxDiff = expected.Select((r, i) => Diff(r.Score, score[i, 0])).Max();
        output.WriteLine($"max difference {maxDiff:G3}");
        Assert.True(maxDiff <= Tolerance, $"max difference {maxDiff:G3}");
        // The prices span 5 to 50: a model that learned something spreads its predictions too.
        Assert.True(expected.Max(r => r.Score) - expected.Min(r => r.Score) > 10);
    }

    [Fact]
    public void ModelReadBackWithLoadModel_Exports_ModelReadBackWithPlainLoad_IsRefusedNamingLoadModel()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.Housing(ml);
        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: 20))
            .Fit(data);
        string folder = Path.Combine(Path.GetTempPath(), $"mlnetbackprop-onnx-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "model.zip");
            ml.Backprop().SaveModel(model, data.Schema, path);

            var ours = ml.Backprop().LoadModel(path, out _);
            using (var session = Export(ml, ours, data))
            {
                var score = Run(session, data)["Score"].AsTensor<float>();
                var expected = ml.Data.CreateEnumerable<RegressionScored>(model.Transform(data), reuseRowObject: false).ToList();
                Assert.True(expected.Select((r, i) => Diff(r.Score, score[i, 0])).Max() <= Tolerance);
            }

            var plain = new MLContext().Model.Load(path, out _);
            try
            {
                var e = Assert.Throws<ArgumentException>(() => ml.Backprop().ExportOnnx(plain, data, new MemoryStream()));
                Assert.Contains("no BackpropTransformer", e.Message);
                Assert.Contains("mlContext.Backprop().LoadModel", e.Message);
            }
            finally
            {
                (plain as IDisposable)?.Dispose();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void TransformAfterTheNetwork_IsRefusedNamingIt_AndNothingIsWritten()
    {
        var ml = new MLContext(seed: 1);
        var data = Datasets.Iris(ml);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Backprop(hiddenLayers: [4], maxEpochs: 5))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"))
            .Fit(data);
        using var stream = new MemoryStream();
        var e = Assert.Throws<NotSupportedException>(() => ml.Backprop().ExportOnnx(model, data, stream));
        Assert.Contains("KeyToValueMappingTransformer after the BackpropTransformer", e.Message);
        Assert.Equal(0, stream.Length);
    }

    public sealed class Doubled
    {
        [VectorType(13)]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void TransformTheConverterCannotExport_IsRefused_NotLeftOutOfTheGraph()
    {
        // ML.NET's converter skips a CustomMapping with only a warning, and the normalizer after it would then read the raw
        // features: a graph that scores differently from Transform. The export must refuse it.
        var ml = new MLContext(seed: 1);
        var data = Datasets.Housing(ml);
        var model = ml.Transforms.CustomMapping<Doubled, Doubled>((i, o) => o.Features = i.Features.Select(x => 2 * x).ToArray(), contractName: null)
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [4], maxEpochs: 5))
            .Fit(data);
        using var stream = new MemoryStream();
        var e = Assert.Throws<NotSupportedException>(() => ml.Backprop().ExportOnnx(model, data, stream));
        Assert.Contains("cannot export every transform before the BackpropTransformer", e.Message);
        Assert.Contains("CustomMappingTransformer", e.Message);
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public void MLNetsOwnConvertToOnnx_WritesNoNetwork_WhichIsWhyTheReadmeSaysNotToUseIt()
    {
        // Pins the README's warning: ML.NET's converter cannot see into the BackpropTransformer (its interfaces for that are
        // internal), stops there, and writes the network's outputs as graph inputs. If ML.NET ever changes this, the README
        // must change too.
        var ml = new MLContext(seed: 1);
        var data = Datasets.Housing(ml);
        var model = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [4], maxEpochs: 5))
            .Fit(data);
        using var stream = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, stream);
        using var session = new InferenceSession(stream.ToArray());
        Assert.Contains("Score", session.InputMetadata.Keys);
        Assert.DoesNotContain(session.OutputMetadata.Keys, k => k == "Score");
    }

    [Fact]
    public void GraphThatComputesOtherScores_IsCaughtByTheExportsCheckAgainstTransform()
    {
        // The export runs its graph in ONNX Runtime on the first rows of the data and compares with Transform before it
        // writes anything. Here the check is handed the graph of a network trained for 1 epoch where Transform runs one
        // trained for 30: it must refuse, naming the column and the row.
        var ml = new MLContext(seed: 1);
        var data = Datasets.Housing(ml);
        ITransformer Fit(int epochs) => ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Regression.Trainers.Backprop(hiddenLayers: [8], maxEpochs: epochs))
            .Fit(data);
        var trained = Fit(30);
        var other = Fit(1);
        using var stream = new MemoryStream();
        ml.Backprop().ExportOnnx(other, data, stream);
        MLNetBackprop.Onnx.PipelineOnnxCheck.Check(stream.ToArray(), other, BackpropTask.Regression, data); // its own model: agrees

        var e = Assert.Throws<NotSupportedException>(() =>
            MLNetBackprop.Onnx.PipelineOnnxCheck.Check(stream.ToArray(), trained, BackpropTask.Regression, data));
        Assert.Contains("computes Score", e.Message);
        Assert.Contains("row 0 of the data where Transform gives", e.Message);
    }

    private static double Diff(float expected, float actual) => Math.Abs(expected - actual) / Math.Max(1, Math.Abs(expected));

    private static InferenceSession Export(MLContext ml, ITransformer model, IDataView data)
    {
        using var stream = new MemoryStream();
        ml.Backprop().ExportOnnx(model, data, stream);
        return new InferenceSession(stream.ToArray());
    }

    /// <summary>Runs the graph on every row of <paramref name="data"/>: each graph input from the raw column of its name.</summary>
    private static Dictionary<string, DisposableNamedOnnxValue> Run(InferenceSession session, IDataView data)
    {
        var inputs = new List<NamedOnnxValue>();
        foreach (var (name, meta) in session.InputMetadata)
        {
            var column = data.Schema[name];
            var values = new List<float>();
            int width = column.Type is VectorDataViewType v ? v.Size : 1;
            using var cursor = data.GetRowCursor([column]);
            if (column.Type is VectorDataViewType)
            {
                var getter = cursor.GetGetter<VBuffer<float>>(column);
                VBuffer<float> buffer = default;
                while (cursor.MoveNext())
                {
                    getter(ref buffer);
                    values.AddRange(buffer.DenseValues());
                }
            }
            else
            {
                var getter = cursor.GetGetter<float>(column);
                float x = 0;
                while (cursor.MoveNext())
                {
                    getter(ref x);
                    values.Add(x);
                }
            }
            Assert.Equal(typeof(float), meta.ElementType);
            inputs.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(values.ToArray(), [values.Count / width, width])));
        }
        var results = session.Run(inputs);
        return results.ToDictionary(r => r.Name);
    }

    public sealed class BinaryScored
    {
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
    }

    public sealed class MulticlassScored
    {
        public float[] Score { get; set; } = [];
        public uint PredictedLabel { get; set; }
    }

    public sealed class RegressionScored
    {
        public float Score { get; set; }
    }
}
