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
    private float _logit;
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

    private void Ensure()
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
        if (_model.Task == BackpropTask.BinaryClassification)
            _logit = _net.OutputActivation == Activation.Sigmoid ? _logits[0] : _output[0];
        else if (_model.Task == BackpropTask.Regression)
        {
            var mean = _model.Mean;
            var scale = _model.Scale;
            for (int k = 0; k < _output.Length; k++) _output[k] = _output[k] * scale[k] + mean[k];
        }
        _scoredPosition = pos;
    }

    /// <summary>The getter of output column <paramref name="name"/> (one of <see cref="OutputSchema.ColumnNames"/>).</summary>
    public Delegate MakeGetter(string name)
    {
        switch (_model.Task, name)
        {
            case (BackpropTask.BinaryClassification, OutputSchema.Score):
                return (ValueGetter<float>)((ref float v) => { Ensure(); v = _logit; });
            case (BackpropTask.BinaryClassification, OutputSchema.Probability):
                return (ValueGetter<float>)((ref float v) => { Ensure(); v = _output[0]; });
            case (BackpropTask.BinaryClassification, OutputSchema.PredictedLabel):
                return (ValueGetter<bool>)((ref bool v) => { Ensure(); v = _output[0] > 0.5f; });
            case (BackpropTask.MulticlassClassification, OutputSchema.PredictedLabel):
                return (ValueGetter<uint>)((ref uint v) =>
                {
                    Ensure();
                    int best = -1;
                    float max = float.NegativeInfinity;
                    for (int k = 0; k < _output.Length; k++)
                        if (_output[k] > max) { max = _output[k]; best = k; }
                    v = (uint)(best + 1);
                });
            case (BackpropTask.Regression, OutputSchema.Score) when _output.Length == 1 && _model.IsScalarRegression:
                return (ValueGetter<float>)((ref float v) => { Ensure(); v = _output[0]; });
            default:
                return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
                {
                    Ensure();
                    var editor = VBufferEditor.Create(ref v, _output.Length);
                    _output.CopyTo(editor.Values);
                    v = editor.Commit();
                });
        }
    }
}
