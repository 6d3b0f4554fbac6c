using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Core;

namespace MLNetBackprop;

/// <summary>
/// Scores the rows of one cursor or row with a workspace of its own (so many cursors can score at once), once per
/// row position, and hands out getters for the output columns.
/// </summary>
internal sealed class RowScorer
{
    private readonly BackpropModelParameters _model;
    private readonly NeuralNetwork<float> _net;
    private readonly DataViewRow _input;
    private readonly ValueGetter<VBuffer<float>> _features;
    private readonly NetworkPredictor<float> _predictor;
    private readonly float[] _output;
    private readonly float[] _logits;
    private readonly string _featureName;
    private VBuffer<float> _buffer;
    private long _scoredPosition = -1;

    public RowScorer(BackpropModelParameters model, DataViewRow input, DataViewSchema.Column featureColumn)
    {
        _model = model;
        _net = model.Network;
        _input = input;
        _featureName = featureColumn.Name;
        _features = input.GetGetter<VBuffer<float>>(featureColumn);
        _predictor = model.Predictor;
        _output = new float[_net.OutputSize];
        _logits = new float[_net.OutputSize];
    }

    public BackpropModelParameters Model => _model;

    /// <summary>The current row's outputs, in the task's scale (<see cref="Heads.TaskHead.MapOutputs"/>); valid after <see cref="Ensure"/>.</summary>
    public float[] Output => _output;

    /// <summary>The current row's output pre-activations; valid after <see cref="Ensure"/>.</summary>
    public float[] Logits => _logits;

    /// <summary>Scores the input's current row, unless it is the row scored last.</summary>
    public void Ensure()
    {
        long pos = _input.Position;
        if (pos == _scoredPosition && pos >= 0) return;
        _features(ref _buffer);
        if (_buffer.Length != _net.InputSize)
            throw new InvalidOperationException($"Column '{_featureName}' row {pos} has {_buffer.Length} slots; the model was trained on {_net.InputSize}.");
        var values = _buffer.GetValues();
        // A sparse row is scored from its non-zeros with the same bits as the row written out densely.
        if (_buffer.IsDense)
            _predictor.Predict(values, _output, _logits);
        else
            _predictor.PredictSparse(_buffer.GetIndices(), values, _output, _logits);
        _model.Head.MapOutputs(_model, _output);
        _scoredPosition = pos;
    }

    /// <summary>The getter of output column <paramref name="name"/> (one of the head's <see cref="Heads.TaskHead.ColumnNames"/>).</summary>
    public Delegate MakeGetter(string name) => _model.Head.MakeGetter(this, name);
}
