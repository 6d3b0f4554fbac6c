using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetBackprop.Heads;
using MLNetBackprop.Interop;

namespace MLNetBackprop;

/// <summary>Runs a comparison: resolves the task, splits once, fits and evaluates every candidate with ML.NET's own routines.</summary>
internal sealed class ComparisonRunner
{
    private readonly MLContext _ml;
    private readonly IEstimator<ITransformer> _featurization;
    private readonly (string Name, IEstimator<ITransformer> Trainer)[] _candidates;
    private readonly ComparisonOptions _options;

    public ComparisonRunner(MLContext ml, IEstimator<ITransformer> featurization, IEnumerable<(string Name, IEstimator<ITransformer> Trainer)> candidates,
        ComparisonOptions? options)
    {
        ArgumentNullException.ThrowIfNull(featurization);
        ArgumentNullException.ThrowIfNull(candidates);
        _ml = ml;
        _featurization = featurization;
        _candidates = candidates.ToArray();
        _options = options?.Clone() ?? new ComparisonOptions();
        Validate();
    }

    private void Validate()
    {
        if (_candidates.Length == 0) throw new ArgumentException("Give at least one candidate trainer.", "candidates");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, trainer) in _candidates)
        {
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("Every candidate needs a non-empty name.", "candidates");
            if (trainer is null) throw new ArgumentException($"Candidate '{name}' has no trainer (null).", "candidates");
            if (!seen.Add(name)) throw new ArgumentException($"The candidate name '{name}' appears more than once; names must be distinct.", "candidates");
        }
        var o = _options;
        if (string.IsNullOrEmpty(o.LabelColumnName)) throw new ArgumentException("The option LabelColumnName must not be empty.", "options");
        if (!Enum.IsDefined(o.Task)) throw new ArgumentOutOfRangeException("options", o.Task, $"The option Task = {o.Task} is not a defined task.");
        if (!Enum.IsDefined(o.Protocol)) throw new ArgumentOutOfRangeException("options", o.Protocol, $"The option Protocol = {o.Protocol} is not a defined protocol.");
        if (o.NumberOfFolds < 2) throw new ArgumentOutOfRangeException("options", o.NumberOfFolds, $"The option NumberOfFolds = {o.NumberOfFolds} must be at least 2.");
        if (!(o.TestFraction > 0 && o.TestFraction < 1))
            throw new ArgumentOutOfRangeException("options", o.TestFraction, $"The option TestFraction = {o.TestFraction} must be in (0, 1).");
        if (o.ScoringMeasurementTime < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException("options", o.ScoringMeasurementTime, "The option ScoringMeasurementTime must not be negative.");
    }

    /// <summary>Cross-validation or a seeded split of <paramref name="data"/> when <paramref name="test"/> is null; else the given split.</summary>
    public ComparisonResult Run(IDataView data, IDataView? test)
    {
        var o = _options;
        var head = ResolveTask(data.Schema);
        bool crossValidate = test is null && o.Protocol == ComparisonProtocol.CrossValidation;
        int? seed = null;
        IDataView train = data;
        string protocol;
        if (test is null)
        {
            seed = o.Seed ?? ((IHostEnvironment)_ml).Register("Compare").Rand.Next();
            if (crossValidate)
            {
                protocol = string.Create(CultureInfo.InvariantCulture, $"{o.NumberOfFolds}-fold cross-validation (seed {seed}){Rows(data)}");
            }
            else
            {
                var split = _ml.Data.TrainTestSplit(data, o.TestFraction, o.SamplingKeyColumnName, seed);
                (train, test) = (split.TrainSet, split.TestSet);
                protocol = string.Create(CultureInfo.InvariantCulture,
                    $"train/test split {100 * (1 - o.TestFraction):0.##}/{100 * o.TestFraction:0.##} (seed {seed}){Rows(data)}");
            }
        }
        else
        {
            protocol = "given train/test sets" + (train.GetRowCount() is { } a && test.GetRowCount() is { } b
                ? string.Create(CultureInfo.InvariantCulture, $" ({a:N0}/{b:N0} rows)") : "");
        }

        int foldCount = crossValidate ? o.NumberOfFolds : 1;
        var inputShape = SchemaShapes.FromSchema(data.Schema);
        var rows = new List<ComparisonRow>();
        bool anyLogLoss = false;
        object? firstMetrics = null;
        for (int c = 0; c < _candidates.Length; c++)
        {
            var (name, trainer) = _candidates[c];
            int index = c;
            var timed = new TimedEstimator(trainer,
                fold => o.Progress?.Invoke(new ComparisonProgress(name, index, _candidates.Length, fold, foldCount, null, null)),
                (fold, t) => o.Progress?.Invoke(new ComparisonProgress(name, index, _candidates.Length, fold, foldCount, t, null)));
            ComparisonRow row;
            try
            {
                var pipeline = Pipeline(timed);
                head.CheckCandidate(name, pipeline, data.Schema, o.LabelColumnName);
                bool calibrated = head.IsCalibrated(pipeline.GetOutputSchema(inputShape));
                anyLogLoss |= head.HasLogLoss(calibrated);
                var folds = crossValidate
                    ? head.CrossValidate(_ml, data, pipeline, o.NumberOfFolds, o.LabelColumnName, o.SamplingKeyColumnName, seed!.Value, calibrated)
                    : [FitAndEvaluate(head, calibrated, train, test!, pipeline)];
                firstMetrics ??= folds[0].Metrics;
                var perFold = folds.Select(f => TaskMetrics.Read(f.Metrics)).ToArray();
                var metrics = perFold[0].Select((m, i) => new MetricSummary(m.Name, perFold.Select(f => f[i].Value).ToArray())).ToArray();
                double throughput = MeasureScoring(folds.Select(f => f.Scored).ToArray(), o.ScoringMeasurementTime);
                row = new ComparisonRow(name, metrics, timed.FitTimes, throughput, folds.Select(f => f.Model).ToArray(), null);
            }
            catch (Exception e) when (o.ContinueOnError && e is not OperationCanceledException)
            {
                row = new ComparisonRow(name, [], timed.FitTimes, double.NaN, [], e);
            }
            rows.Add(row);
            o.Progress?.Invoke(new ComparisonProgress(name, index, _candidates.Length, foldCount, foldCount, null, row));
        }
        // The multi-output metric names (one R² per output, by the label's slot names) come from the first candidate that was evaluated.
        return new ComparisonResult(head.Task, $"{head.ComparisonName(firstMetrics)}, {protocol}", head.MetricNames(anyLogLoss, firstMetrics), foldCount, rows,
            head.ComparisonOutputs(firstMetrics));
    }

    /// <summary>featurization.Append(trainer), keeping the featurization chain's cache checkpoints (see <see cref="EstimatorChains"/>).</summary>
    private IEstimator<ITransformer> Pipeline(IEstimator<ITransformer> trainer) => EstimatorChains.Append(_featurization, trainer);

    private static string Rows(IDataView data) =>
        data.GetRowCount() is { } n ? string.Create(CultureInfo.InvariantCulture, $", {n:N0} rows") : "";

    /// <summary>The head of the comparison's task: the option, or the one the featurized label's type implies.</summary>
    private TaskHead ResolveTask(DataViewSchema schema)
    {
        string label = _options.LabelColumnName;
        var shape = _featurization.GetOutputSchema(SchemaShapes.FromSchema(schema));
        var column = shape.LastOrDefault(c => c.Name == label);
        if (column.Name is null)
            throw new ArgumentException(
                $"Column '{label}' (the label column) is not in the featurized data. Its columns are: {string.Join(", ", shape.Select(c => $"'{c.Name}'"))}.",
                "options");
        bool vectorOfSingle = column.Kind == SchemaShape.Column.VectorKind.Vector && column.ItemType == NumberDataViewType.Single && !column.IsKey;
        if (_options.Task != BackpropTask.Auto) return TaskHead.For(_options.Task, vectorOfSingle);
        if (column.Kind == SchemaShape.Column.VectorKind.Scalar)
        {
            if (column.IsKey) return MulticlassHead.Instance;
            if (column.ItemType == BooleanDataViewType.Instance) return BinaryHead.Instance;
            if (column.ItemType == NumberDataViewType.Single) return RegressionHead.Instance;
        }
        if (vectorOfSingle) return MultiOutputRegressionHead.Instance;
        throw new ArgumentException(
            $"Column '{label}' (the label column) is {(column.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : "a vector of ")}{column.ItemType} after the featurization; " +
            "the evaluators need Boolean (binary classification), a key (multiclass, use MapValueToKey), Single (regression) or a known-size vector of Single (multi-output regression). Set ComparisonOptions.Task to force one.",
            "options");
    }

    private (object Metrics, ITransformer Model, IDataView Scored) FitAndEvaluate(TaskHead head, bool calibrated, IDataView train, IDataView test,
        IEstimator<ITransformer> pipeline)
    {
        var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        return (head.Evaluate(_ml, scored, _options.LabelColumnName, calibrated), model, scored);
    }

    /// <summary>Rows per second of one cursor reading the Score column, over repeated passes until the time budget is spent.</summary>
    private static double MeasureScoring(IDataView[] scored, TimeSpan budget)
    {
        long rows = 0;
        var elapsed = TimeSpan.Zero;
        var perFold = budget / scored.Length;
        foreach (var view in scored)
        {
            var score = view.Schema["Score"];
            var clock = Stopwatch.StartNew();
            do
            {
                rows += score.Type is VectorDataViewType ? Pass<VBuffer<float>>(view, score) : Pass<float>(view, score);
            }
            while (clock.Elapsed < perFold);
            elapsed += clock.Elapsed;
        }
        return rows / elapsed.TotalSeconds;
    }

    private static long Pass<T>(IDataView view, DataViewSchema.Column column)
    {
        using var cursor = view.GetRowCursor([column]);
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        long n = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            n++;
        }
        return n;
    }
}
