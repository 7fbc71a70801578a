"""The project's seed snippet, verbatim: BrainChip's documented way to convert the pretrained
DS-CNN keyword-spotting model for Akida 2.0, then for Akida 1.0."""

import numpy as np

import akida
from akida_models import example_path


def test_seed_snippet_v2_half():
    from akida_models import ds_cnn_kws_pretrained
    from cnn2snn import convert, set_akida_version, AkidaVersion
    quantized_model = ds_cnn_kws_pretrained()
    model_akida = convert(quantized_model)

    assert isinstance(model_akida, akida.Model)
    assert model_akida.ip_version == akida.IpVersion.v2
    assert model_akida.input_shape == [49, 10, 1]
    assert model_akida.output_shape == [1, 1, 33]


def test_seed_snippet_full():
    from akida_models import ds_cnn_kws_pretrained
    from cnn2snn import convert, set_akida_version, AkidaVersion
    quantized_model = ds_cnn_kws_pretrained()
    model_akida = convert(quantized_model)
    with set_akida_version(AkidaVersion.v1):
        quantized_model = ds_cnn_kws_pretrained()
        model_akida = convert(quantized_model)

    # The Akida 1.0 DS-CNN of BrainChip's documentation (akida-spec §6.1).
    assert model_akida.ip_version == akida.IpVersion.v1
    assert model_akida.input_shape == [49, 10, 1]
    assert model_akida.output_shape == [1, 1, 33]
    kinds = [(layer.name, layer.parameters.layer_type) for layer in model_akida.layers]
    assert [name for name, _ in kinds] == ["conv_0", "separable_1", "separable_2", "separable_3",
                                          "separable_4", "dense_5"], kinds
    samples = np.load(example_path("ds_cnn_kws_samples.npy"))
    outputs = model_akida.predict(samples)
    assert outputs.shape == (len(samples), 1, 1, 33) and np.isfinite(outputs).all()
