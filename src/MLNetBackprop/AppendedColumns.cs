using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>
/// The model's output columns appended to an input row or cursor: which are active and their getters, which score
/// with a workspace of their own. Shared by <see cref="ScoredRow"/> (prediction engines) and <see cref="ScoredCursor"/>.
/// </summary>
internal sealed class AppendedColumns
{
    private readonly ScoringSchema _binding;
    private readonly DataViewRow _input;
    private readonly bool[] _active;
    private readonly Delegate?[] _getters;

    public AppendedColumns(ScoringSchema binding, DataViewRow input, bool[] active)
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

    public bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index < _binding.InputCount ? _input.IsColumnActive(_input.Schema[column.Index]) : _active[column.Index - _binding.InputCount];

    public ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index < _binding.InputCount) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
        int i = column.Index - _binding.InputCount;
        if ((uint)i >= (uint)_getters.Length)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column index {column.Index} is outside the schema.");
        var g = _getters[i] ?? throw new InvalidOperationException($"Column '{_binding.Names[i]}' is not active in this row or cursor.");
        return g as ValueGetter<TValue>
            ?? throw new InvalidOperationException(
                $"Column '{_binding.Names[i]}' has type {_binding.Output[column.Index].Type}; a getter of {typeof(TValue).Name} was requested.");
    }
}
