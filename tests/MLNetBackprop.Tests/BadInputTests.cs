using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>Bad input is refused at GetOutputSchema / Fit time with messages naming the column, row and expected type.</summary>
public sealed class BadInputTests
{
    public sealed class Row
    {
        public float Label { get; set; }

        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public string Text { get; set; } = "";

        [VectorType(3)]
        public float[] Other { get; set; } = [];
    }

    private static IDataView Data(MLContext ml, int rows = 10, Action<int, Row>? edit = null)
    {
        var list = Enumerable.Range(0, rows).Select(i =>
        {
            var r = new Row { Label = i % 2, Features = [i, 1, -i], Text = "t", Other = [1, 2, 3] };
            edit?.Invoke(i, r);
            return r;
        }).ToList();
        return ml.Data.LoadFromEnumerable(list);
    }

    [Fact]
    public void MissingFeatureColumn_IsNamedAtGetOutputSchemaAndFit()
    {
        var ml = new MLContext(1);
        var data = Data(ml);
        var trainer = ml.Backprop().Trainer(featureColumnName: "Nope");
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(SchemaShapes.FromSchema(data.Schema)));
        Assert.Contains("'Nope'", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        Assert.Contains("Column 'Nope' (the feature column) was not found", e2.Message);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Backprop(labelColumnName: "Missing").Fit(data));
        Assert.Contains("'Missing'", e3.Message);
    }

    [Fact]
    public void WrongColumnTypes_AreNamedWithTheExpectedType()
    {
        var ml = new MLContext(1);
        var data = Data(ml);
        var e1 = Assert.Throws<ArgumentException>(() => ml.Backprop().Trainer(labelColumnName: "Text").Fit(data));
        Assert.Contains("Column 'Text' (the label column) has type String", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => ml.Backprop().Trainer(featureColumnName: "Label").GetOutputSchema(SchemaShapes.FromSchema(data.Schema)));
        Assert.Contains("expected a known-size vector of Single", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Backprop().Fit(data));
        Assert.Contains("MapValueToKey", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => ml.Backprop().Trainer(exampleWeightColumnName: "Other").Fit(data));
        Assert.Contains("Column 'Other' (the example weight column)", e4.Message);
        var e5 = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.Backprop(labelColumnName: "Other").GetOutputSchema(SchemaShapes.FromSchema(data.Schema)));
        Assert.Contains("Column 'Other' (the label column)", e5.Message);
    }

    [Fact]
    public void NaNInFeaturesOrLabel_IsReportedWithRowAndSlot()
    {
        var ml = new MLContext(1);
        var e1 = Assert.Throws<InvalidOperationException>(() =>
            ml.Backprop().Trainer().Fit(Data(ml, edit: (i, r) => { if (i == 7) r.Features[2] = float.NaN; })));
        Assert.Contains("Column 'Features' row 7 slot 2 is NaN", e1.Message);
        var e2 = Assert.Throws<InvalidOperationException>(() =>
            ml.Backprop().Trainer().Fit(Data(ml, edit: (i, r) => { if (i == 4) r.Label = float.NaN; })));
        Assert.Contains("Column 'Label' (the label) row 4 is NaN", e2.Message);
    }

    [Fact]
    public void EmptyData_IsRefused()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentException>(() => ml.Backprop().Trainer().Fit(Data(ml, rows: 0)));
        Assert.Contains("has no rows", e.Message);
    }

    [Fact]
    public void InvalidOptions_NameTheOption()
    {
        var ml = new MLContext(1);
        Assert.Equal("HiddenLayers", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().Trainer(hiddenLayers: [4, 0])).ParamName);
        Assert.Equal("LearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().Trainer(new BackpropTrainerOptions { LearningRate = -1 })).ParamName);
        Assert.Equal("MaxEpochs", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Backprop(maxEpochs: 0)).ParamName);
        Assert.Equal("ValidationFraction", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Backprop().Trainer(new BackpropTrainerOptions { ValidationFraction = 1.5 })).ParamName);
        Assert.Equal("OutputActivation", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.BinaryClassification.Trainers.Backprop(new BackpropTrainerOptions { OutputActivation = Core.Activation.Identity, Optimizer = OptimizerKind.Adam })
                .Fit(Data(ml))).ParamName);
    }

    [Fact]
    public void ScoringDataWithAnotherFeatureSize_IsRefused()
    {
        var ml = new MLContext(1);
        var model = ml.Backprop().Trainer(hiddenLayers: [2], maxEpochs: 2).Fit(Data(ml));
        var other = ml.Data.LoadFromEnumerable(new[] { new { Features = new float[5] } }.Select(x => new Wide()).ToList());
        var e = Assert.Throws<ArgumentException>(() => model.Transform(other));
        Assert.Contains("has 5 slots; the model was trained on 3", e.Message);
    }

    public sealed class Wide
    {
        [VectorType(5)]
        public float[] Features { get; set; } = new float[5];
    }
}
