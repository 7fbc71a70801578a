"""The project's seed snippet, verbatim: BrainChip's documented way to convert the pretrained
DS-CNN keyword-spotting model for Akida 2.0, then for Akida 1.0."""

import pytest

import akida


def test_seed_snippet_v2_half():
    from akida_models import ds_cnn_kws_pretrained
    from cnn2snn import convert, set_akida_version, AkidaVersion
    quantized_model = ds_cnn_kws_pretrained()
    model_akida = convert(quantized_model)

    assert isinstance(model_akida, akida.Model)
    assert model_akida.ip_version == akida.IpVersion.v2
    assert model_akida.input_shape == [49, 10, 1]
    assert model_akida.output_shape == [1, 1, 33]


# Strict: once Akida 1.0 conversion of the legacy 4-bit model works this test passes, which
# pytest reports as a failure, so that someone removes the mark and adds checks of the result.
@pytest.mark.xfail(strict=True, reason="the Akida 1.0 path is not implemented yet: the Keras "
                                       "front end does not read legacy CNN2SNN 4-bit .h5 files "
                                       "and cnn2snn::convert refuses v1")
def test_seed_snippet_full():
    from akida_models import ds_cnn_kws_pretrained
    from cnn2snn import convert, set_akida_version, AkidaVersion
    quantized_model = ds_cnn_kws_pretrained()
    model_akida = convert(quantized_model)
    with set_akida_version(AkidaVersion.v1):
        quantized_model = ds_cnn_kws_pretrained()
        model_akida = convert(quantized_model)
