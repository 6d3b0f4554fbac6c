using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>An input row with the model's output columns appended (the prediction-engine path).</summary>
internal sealed class ScoredRow : DataViewRow
{
    private readonly ScoringSchema _binding;
    private readonly DataViewRow _input;
    private readonly bool[] _active;
    private readonly Delegate?[] _getters;

    public ScoredRow(ScoringSchema binding, DataViewRow input, bool[] active)
    {
        _binding = binding;
        _input = input;
        _active = active;
        _getters = new Delegate?[active.Length];
        if (active.Any(a => a))
        {
            var scorer = new RowScorer(binding.Model, input, input.Schema[binding.Features.Index]);
            for (int i = 0; i < active.Length; i++)
                if (active[i]) _getters[i] = scorer.MakeGetter(binding.Names[i]);
        }
    }

    public override DataViewSchema Schema => _binding.Output;

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index < _binding.InputCount ? _input.IsColumnActive(_input.Schema[column.Index]) : _active[column.Index - _binding.InputCount];

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
        Getter<TValue>(_binding, _input, _getters, column);

    internal static ValueGetter<TValue> Getter<TValue>(ScoringSchema binding, DataViewRow input, Delegate?[] getters, DataViewSchema.Column column)
    {
        if (column.Index < binding.InputCount) return input.GetGetter<TValue>(input.Schema[column.Index]);
        int i = column.Index - binding.InputCount;
        if ((uint)i >= (uint)getters.Length)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column index {column.Index} is outside the schema.");
        var g = getters[i] ?? throw new InvalidOperationException($"Column '{binding.Names[i]}' is not active in this row or cursor.");
        return g as ValueGetter<TValue>
            ?? throw new InvalidOperationException(
                $"Column '{binding.Names[i]}' has type {binding.Output[column.Index].Type}; a getter of {typeof(TValue).Name} was requested.");
    }
}
