using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MLNetBackprop.Core;
using MLNetBackprop.Core.Optimizers;

namespace MLNetBackprop.Tests;

/// <summary>
/// Issue #15: one options model. The adapter's options store the settings they share with the core in a core
/// <see cref="TrainingOptions"/>, every default comes from <see cref="Defaults"/>, and the XML docs say the same values.
/// </summary>
public class DefaultsTests
{
    [Fact]
    public void TheCoreOptions_StartFromTheDefaultsHolder()
    {
        var o = new TrainingOptions();
        Assert.Equal(Defaults.CoreLoss, o.Loss);
        Assert.Equal(Defaults.CoreL2Regularization, o.L2Regularization);
        Assert.Equal(Defaults.CoreOptimizer, o.Optimizer);
        Assert.Equal(Defaults.CoreDivergenceBackoff, o.DivergenceBackoff);
        Assert.Equal(Defaults.GradientDescentLearningRate, o.EffectiveLearningRate);
        Assert.Equal(Defaults.SgdLearningRate, new TrainingOptions { Optimizer = OptimizerKind.Sgd }.EffectiveLearningRate);
        Assert.Equal(Defaults.AdamLearningRate, new TrainingOptions { Optimizer = OptimizerKind.Adam }.EffectiveLearningRate);
        Assert.Equal(Defaults.MaxEpochs, o.MaxEpochs);
        Assert.Equal(Defaults.Tolerance, o.Tolerance);
        // The textbook λ and the adapter's fixed λ differ on purpose (see Defaults); this pins that both are what the docs say.
        Assert.Equal(1e-4, Defaults.CoreL2Regularization);
        Assert.Equal(1e-3, Defaults.FixedL2Regularization);
    }

    [Fact]
    public void TheAdapterOptions_StartFromTheDefaultsHolder()
    {
        var o = new BackpropTrainerOptions();
        Assert.Equal(Defaults.LabelColumnName, o.LabelColumnName);
        Assert.Equal(Defaults.FeatureColumnName, o.FeatureColumnName);
        Assert.Equal([Defaults.HiddenUnits], o.HiddenLayers);
        Assert.Equal(Defaults.HiddenActivation, o.Activation);
        Assert.Equal(Defaults.WeightDecayCandidates(), o.WeightDecayCandidates);
        Assert.Equal(Defaults.WeightDecayFolds, o.WeightDecayFolds);
        Assert.Equal(Defaults.WeightDecaySearchMaxRows, o.WeightDecaySearchMaxRows);
        Assert.Equal(Defaults.LbfgsMaxRows, o.LbfgsMaxRows);
        Assert.Equal(Defaults.DivergenceBackoff, o.DivergenceBackoff);
        Assert.Equal(Defaults.StandardizeTargets, o.StandardizeTargets);
        Assert.Equal(Defaults.StreamingBlockRows, o.StreamingBlockRows);
        Assert.Equal(Defaults.StreamingValidationMaxRows, o.StreamingValidationMaxRows);
        Assert.Null(o.L2Regularization); // automatic
        Assert.Equal(Defaults.FixedL2Regularization, o.ToCore(LossFunction.SquaredError, rows: 10_000).L2Regularization);
        var search = new WeightDecaySearchOptions();
        Assert.Equal(Defaults.WeightDecayCandidates(), search.Candidates);
        Assert.Equal(Defaults.WeightDecayFolds, search.Folds);
    }

    [Fact]
    public void EverySettingBothOptionsShare_HasOneDefault_AndReachesTheCoreWithoutACopy()
    {
        var core = new TrainingOptions();
        var shared = SharedProperties().ToList();
        Assert.True(shared.Count >= 20, $"only {shared.Count} shared settings found");
        foreach (var (adapter, coreProperty) in shared)
        {
            // DivergenceBackoff is the one shared setting whose default differs (Defaults says why).
            if (adapter.Name != nameof(TrainingOptions.DivergenceBackoff))
                Assert.Equal(coreProperty.GetValue(core), adapter.GetValue(new BackpropTrainerOptions()));

            var o = new BackpropTrainerOptions();
            object value = Different(adapter.PropertyType, adapter.GetValue(o));
            adapter.SetValue(o, value);
            Assert.Equal(value, adapter.GetValue(o));
            Assert.Equal(value, coreProperty.GetValue(o.ToCore(LossFunction.SquaredError, rows: 1000)));

            // A clone stores its own core options: changing it leaves the original alone.
            var copy = o.Clone();
            adapter.SetValue(copy, Different(adapter.PropertyType, value));
            Assert.Equal(value, adapter.GetValue(o));
        }
    }

    [Fact]
    public void TheAutomaticSettings_AreSettledIntoTheCoreOptions_ByTheAdaptersRules()
    {
        var o = new BackpropTrainerOptions();
        var core = o.ToCore(LossFunction.CrossEntropy, rows: 3000);
        Assert.Equal(LossFunction.CrossEntropy, core.Loss);
        Assert.Equal(OptimizerKind.Adam, core.Optimizer);
        Assert.Equal(Defaults.AutoBatchSize(3000), core.BatchSize);
        Assert.Equal(60, Defaults.AutoBatchSize(3000));
        Assert.Equal(Defaults.AutoBatchMin, Defaults.AutoBatchSize(10));
        Assert.Equal(Defaults.AutoBatchMax, Defaults.AutoBatchSize(1_000_000));
        Assert.True(core.EarlyStopping);
        Assert.Equal(0, core.Seed);
        Assert.Null(o.ToCore(LossFunction.SquaredError, rows: null).BatchSize);

        o.Optimizer = OptimizerKind.Lbfgs;
        Assert.Null(o.ToCore(LossFunction.SquaredError, rows: 3000).BatchSize); // full batch
        o.L2Regularization = 0.25;
        o.EarlyStopping = false;
        o.Seed = 7;
        core = o.ToCore(LossFunction.SquaredError, rows: 3000);
        Assert.Equal((0.25, false, 7), (core.L2Regularization, core.EarlyStopping, core.Seed));
    }

    [Fact]
    public void TheCatalogSignatures_UseTheDefaultsHoldersColumnNames()
    {
        var methods = typeof(BackpropCatalogExtensions).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Concat(typeof(BackpropCatalog).GetMethods(BindingFlags.Public | BindingFlags.Instance))
            .Where(m => m.ReturnType == typeof(BackpropTrainer)).ToList();
        var withColumns = methods.Where(m => m.GetParameters().Any(p => p.Name == "labelColumnName")).ToList();
        Assert.Equal(4, withColumns.Count);
        foreach (var m in withColumns)
        {
            Assert.Equal(Defaults.LabelColumnName, m.GetParameters().Single(p => p.Name == "labelColumnName").DefaultValue);
            Assert.Equal(Defaults.FeatureColumnName, m.GetParameters().Single(p => p.Name == "featureColumnName").DefaultValue);
        }
    }

    [Fact]
    public void TheOptionsXmlDocs_StateTheDefaultsAFreshObjectHas()
    {
        // "Default 200." in a property's summary must be its value on a fresh object: the docs spell the value for the
        // reader, Defaults holds it, and this keeps the two from drifting apart.
        int checkedCount = 0;
        foreach (var (type, fresh) in new (Type, object)[] { (typeof(BackpropTrainerOptions), new BackpropTrainerOptions()), (typeof(TrainingOptions), new TrainingOptions()) })
        {
            string xml = Path.ChangeExtension(type.Assembly.Location, ".xml");
            Assert.True(File.Exists(xml), $"{xml} is not next to the assembly");
            var docs = XDocument.Load(xml).Descendants("member")
                .ToDictionary(m => (string)m.Attribute("name")!, m => Regex.Replace(m.Element("summary")?.Value ?? "", @"\s+", " "));
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
            {
                if (!docs.TryGetValue($"P:{type.FullName}.{p.Name}", out var summary)) continue;
                var m = Regex.Match(summary, @"Default (true|false|-?[\d,]*\.?\d+(?:e-?\d+)?)(?=[ .;:)]|$)");
                if (!m.Success) continue;
                object? actual = p.GetValue(fresh);
                string stated = m.Groups[1].Value;
                if (stated is "true" or "false") Assert.Equal(stated == "true", actual);
                else Assert.True(Convert.ToDouble(actual, System.Globalization.CultureInfo.InvariantCulture)
                    == double.Parse(stated.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture),
                    $"{type.Name}.{p.Name}: the docs say Default {stated}, a fresh object has {actual}");
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 25, $"only {checkedCount} documented defaults found");
    }

    private static IEnumerable<(PropertyInfo Adapter, PropertyInfo Core)> SharedProperties()
    {
        foreach (var c in typeof(TrainingOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
            if (typeof(BackpropTrainerOptions).GetProperty(c.Name) is { CanWrite: true } a && a.PropertyType == c.PropertyType)
                yield return (a, c);
    }

    /// <summary>A value of <paramref name="type"/> other than <paramref name="current"/>.</summary>
    private static object Different(Type type, object? current)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(double)) return current is double d ? d * 0.5 + 0.125 : 0.0625;
        if (t == typeof(int)) return current is int i ? i + 3 : 7;
        if (t == typeof(bool)) return current is not true;
        if (t.IsEnum)
        {
            var values = Enum.GetValues(t);
            for (int i = 0; i < values.Length; i++)
                if (!Equals(values.GetValue(i), current)) return values.GetValue(i)!;
        }
        if (t == typeof(Action<EpochRecord>)) return new Action<EpochRecord>(_ => { });
        throw new NotSupportedException($"no test value for {type}");
    }
}
