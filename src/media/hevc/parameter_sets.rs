//! The fields of the HEVC parameter sets (VPS, SPS, PPS) an HEVCDecoderConfigurationRecord
//! needs, read with the Exp-Golomb [`BitReader`]. Only what the record carries is kept; the
//! rest of each set is skipped (or, past the SPS bit depths, read on a best-effort basis).

use std::borrow::Cow;

use super::{nal_type, NAL_PPS, NAL_SPS, NAL_VPS};
use crate::media::enhanced::{MediaError, Result};
use crate::media::nal::{remove_emulation_prevention, BitReader};

/// The general part of a profile_tier_level().
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProfileTierLevel {
    pub profile_space: u8,
    pub tier_flag: bool,
    pub profile_idc: u8,
    pub profile_compatibility_flags: u32,
    /// 48 bits: progressive/interlaced/non-packed/frame-only and the reserved/constraint bits.
    pub constraint_indicator_flags: u64,
    pub level_idc: u8,
}

pub(super) fn parse_ptl(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u32,
) -> Result<ProfileTierLevel> {
    let ptl = ProfileTierLevel {
        profile_space: r.bits(2)? as u8,
        tier_flag: r.bit()?,
        profile_idc: r.bits(5)? as u8,
        profile_compatibility_flags: r.bits(32)?,
        constraint_indicator_flags: r.bits64(48)?,
        level_idc: r.bits(8)? as u8,
    };
    let mut present = [(false, false); 8];
    for p in present.iter_mut().take(max_sub_layers_minus1 as usize) {
        *p = (r.bit()?, r.bit()?);
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(2 * (8 - max_sub_layers_minus1 as usize))?; // reserved_zero_2bits
    }
    for &(profile, level) in present.iter().take(max_sub_layers_minus1 as usize) {
        if profile {
            r.skip(88)?;
        }
        if level {
            r.skip(8)?;
        }
    }
    Ok(ptl)
}

/// The fields of an HEVC VPS the record needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HevcVps {
    pub id: u8,
    pub max_sub_layers: u8,
    pub ptl: ProfileTierLevel,
}

impl HevcVps {
    /// Parses a VPS NAL unit (2-byte header included).
    pub fn parse(nal: &[u8]) -> Result<HevcVps> {
        let rbsp = rbsp(nal, NAL_VPS, "VPS")?;
        let mut r = BitReader::new(&rbsp, "VPS");
        let id = r.bits(4)? as u8;
        r.skip(8)?; // vps_base_layer_internal/available flags, vps_max_layers_minus1
        let max_sub_layers_minus1 = r.bits(3)?;
        if max_sub_layers_minus1 > 6 {
            return Err(MediaError::Invalid("vps_max_sub_layers_minus1"));
        }
        r.skip(17)?; // vps_temporal_id_nesting_flag, vps_reserved_0xffff_16bits
        Ok(HevcVps {
            id,
            max_sub_layers: max_sub_layers_minus1 as u8 + 1,
            ptl: parse_ptl(&mut r, max_sub_layers_minus1)?,
        })
    }
}

/// The fields of an HEVC SPS the record needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HevcSps {
    pub id: u32,
    pub max_sub_layers: u8,
    pub temporal_id_nesting: bool,
    pub ptl: ProfileTierLevel,
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// Picture size before the conformance window.
    pub width: u32,
    pub height: u32,
    /// From the VUI's bitstream restriction, when the SPS has one (and parses to there).
    pub min_spatial_segmentation_idc: Option<u16>,
}

impl HevcSps {
    /// Parses an SPS NAL unit (2-byte header included, base layer syntax). The part after
    /// the bit depths is read only for min_spatial_segmentation_idc; if it does not parse,
    /// that field is `None`.
    pub fn parse(nal: &[u8]) -> Result<HevcSps> {
        let rbsp = rbsp(nal, NAL_SPS, "SPS")?;
        let mut r = BitReader::new(&rbsp, "SPS");
        r.skip(4)?; // sps_video_parameter_set_id
        let max_sub_layers_minus1 = r.bits(3)?;
        if max_sub_layers_minus1 > 6 {
            return Err(MediaError::Invalid("sps_max_sub_layers_minus1"));
        }
        let temporal_id_nesting = r.bit()?;
        let ptl = parse_ptl(&mut r, max_sub_layers_minus1)?;
        let id = r.ue()?;
        let chroma = r.ue()?;
        if id > 15 || chroma > 3 {
            return Err(MediaError::Invalid("SPS id or chroma_format_idc"));
        }
        if chroma == 3 {
            r.skip(1)?; // separate_colour_plane_flag
        }
        let width = r.ue()?;
        let height = r.ue()?;
        if r.bit()? {
            for _ in 0..4 {
                r.ue()?; // conf_win_*_offset
            }
        }
        let (luma, chroma_depth) = (r.ue()?, r.ue()?);
        if luma > 8 || chroma_depth > 8 {
            return Err(MediaError::Invalid("SPS bit depth"));
        }
        let min_spatial_segmentation_idc = sps_tail(&mut r, max_sub_layers_minus1).ok().flatten();
        Ok(HevcSps {
            id,
            max_sub_layers: max_sub_layers_minus1 as u8 + 1,
            temporal_id_nesting,
            ptl,
            chroma_format_idc: chroma as u8,
            bit_depth_luma: luma as u8 + 8,
            bit_depth_chroma: chroma_depth as u8 + 8,
            width,
            height,
            min_spatial_segmentation_idc,
        })
    }
}

pub(super) fn rbsp<'a>(nal: &'a [u8], expected: u8, what: &'static str) -> Result<Cow<'a, [u8]>> {
    if nal.len() < 3 || nal_type(nal) != expected {
        return Err(MediaError::Invalid(what));
    }
    Ok(remove_emulation_prevention(&nal[2..]))
}

/// The SPS after the bit depths, up to the VUI's min_spatial_segmentation_idc.
pub(super) fn sps_tail(r: &mut BitReader<'_>, max_sub_layers_minus1: u32) -> Result<Option<u16>> {
    let poc_lsb_bits = r.ue()? + 4;
    let ordering_info_all = r.bit()?;
    let first = if ordering_info_all {
        0
    } else {
        max_sub_layers_minus1
    };
    for _ in first..=max_sub_layers_minus1 {
        for _ in 0..3 {
            r.ue()?; // max_dec_pic_buffering_minus1, max_num_reorder_pics, max_latency_increase_plus1
        }
    }
    for _ in 0..6 {
        r.ue()?; // coding/transform block sizes, transform hierarchy depths
    }
    if r.bit()? && r.bit()? {
        skip_scaling_list_data(r)?;
    }
    r.skip(2)?; // amp_enabled_flag, sample_adaptive_offset_enabled_flag
    if r.bit()? {
        r.skip(8)?; // pcm sample bit depths
        r.ue()?;
        r.ue()?;
        r.skip(1)?;
    }
    let num_rps = r.ue()?;
    if num_rps > 64 {
        return Err(MediaError::Invalid("num_short_term_ref_pic_sets"));
    }
    let mut num_delta_pocs = [0u64; 64];
    for idx in 0..num_rps as usize {
        num_delta_pocs[idx] = skip_st_ref_pic_set(r, idx, &num_delta_pocs)?;
    }
    if r.bit()? {
        let count = r.ue()?;
        for _ in 0..count {
            r.skip(poc_lsb_bits.min(16) as usize + 1)?; // lt_ref_pic_poc_lsb_sps, used flag
        }
    }
    r.skip(2)?; // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
    if !r.bit()? {
        return Ok(None);
    }
    vui_min_spatial_segmentation(r, max_sub_layers_minus1)
}

fn skip_scaling_list_data(r: &mut BitReader<'_>) -> Result<()> {
    for size_id in 0..4 {
        let matrices = if size_id == 3 { 2 } else { 6 };
        for _ in 0..matrices {
            if !r.bit()? {
                r.ue()?; // scaling_list_pred_matrix_id_delta
            } else {
                let coefs = 64.min(1 << (4 + (size_id << 1)));
                if size_id > 1 {
                    r.se()?; // scaling_list_dc_coef_minus8
                }
                for _ in 0..coefs {
                    r.se()?;
                }
            }
        }
    }
    Ok(())
}

/// Skips st_ref_pic_set(idx) of an SPS; returns NumDeltaPocs[idx].
fn skip_st_ref_pic_set(r: &mut BitReader<'_>, idx: usize, num_delta_pocs: &[u64]) -> Result<u64> {
    if idx != 0 && r.bit()? {
        // inter_ref_pic_set_prediction_flag: predicted from set idx - 1.
        r.skip(1)?; // delta_rps_sign
        r.ue()?; // abs_delta_rps_minus1
        let mut count = 0;
        for _ in 0..=num_delta_pocs[idx - 1] {
            let used = r.bit()?;
            if used || r.bit()? {
                count += 1;
            }
        }
        return Ok(count);
    }
    let negative = r.ue()? as u64;
    let positive = r.ue()? as u64;
    if (negative + positive) * 2 > r.bits_left() as u64 {
        return Err(MediaError::Truncated("st_ref_pic_set"));
    }
    for _ in 0..negative + positive {
        r.ue()?; // delta_poc_sX_minus1
        r.skip(1)?; // used_by_curr_pic_sX_flag
    }
    Ok(negative + positive)
}

fn vui_min_spatial_segmentation(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u32,
) -> Result<Option<u16>> {
    if r.bit()? && r.bits(8)? == 255 {
        r.skip(32)?; // sar_width, sar_height
    }
    if r.bit()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if r.bit()? {
        r.skip(4)?; // video_format, video_full_range_flag
        if r.bit()? {
            r.skip(24)?; // colour_primaries, transfer_characteristics, matrix_coeffs
        }
    }
    if r.bit()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?;
    }
    r.skip(3)?; // neutral_chroma_indication, field_seq, frame_field_info_present
    if r.bit()? {
        for _ in 0..4 {
            r.ue()?; // default display window
        }
    }
    if r.bit()? {
        r.skip(64)?; // num_units_in_tick, time_scale
        if r.bit()? {
            r.ue()?; // num_ticks_poc_diff_one_minus1
        }
        if r.bit()? {
            skip_hrd_parameters(r, max_sub_layers_minus1)?;
        }
    }
    if !r.bit()? {
        return Ok(None); // no bitstream_restriction
    }
    r.skip(3)?; // tiles_fixed_structure, motion_vectors_over_pic_boundaries, restricted_ref_pic_lists
    Ok(Some(r.ue()?.min(u16::MAX as u32) as u16))
}

fn skip_hrd_parameters(r: &mut BitReader<'_>, max_sub_layers_minus1: u32) -> Result<()> {
    let nal_hrd = r.bit()?;
    let vcl_hrd = r.bit()?;
    let mut sub_pic = false;
    if nal_hrd || vcl_hrd {
        sub_pic = r.bit()?;
        if sub_pic {
            r.skip(19)?;
        }
        r.skip(8)?; // bit_rate_scale, cpb_size_scale
        if sub_pic {
            r.skip(4)?;
        }
        r.skip(15)?;
    }
    for _ in 0..=max_sub_layers_minus1 {
        let general = r.bit()?;
        let within_cvs = general || r.bit()?;
        let mut low_delay = false;
        if within_cvs {
            r.ue()?; // elemental_duration_in_tc_minus1
        } else {
            low_delay = r.bit()?;
        }
        let mut cpb_count = 1;
        if !low_delay {
            cpb_count = r.ue()? + 1;
            if cpb_count > 32 {
                return Err(MediaError::Invalid("cpb_cnt_minus1"));
            }
        }
        for present in [nal_hrd, vcl_hrd] {
            if present {
                for _ in 0..cpb_count {
                    r.ue()?;
                    r.ue()?;
                    if sub_pic {
                        r.ue()?;
                        r.ue()?;
                    }
                    r.skip(1)?; // cbr_flag
                }
            }
        }
    }
    Ok(())
}

/// The PPS fields the record needs: (id, parallelismType it implies).
pub(super) fn parse_pps(nal: &[u8]) -> Result<(u32, u8)> {
    let rbsp = rbsp(nal, NAL_PPS, "PPS")?;
    let mut r = BitReader::new(&rbsp, "PPS");
    let id = r.ue()?;
    r.ue()?; // pps_seq_parameter_set_id
    r.skip(7)?;
    r.ue()?; // num_ref_idx_l0_default_active_minus1
    r.ue()?;
    r.se()?; // init_qp_minus26
    r.skip(2)?; // constrained_intra_pred_flag, transform_skip_enabled_flag
    if r.bit()? {
        r.ue()?; // diff_cu_qp_delta_depth
    }
    r.se()?; // pps_cb_qp_offset
    r.se()?;
    r.skip(4)?; // slice chroma qp offsets, weighted pred/bipred, transquant bypass
    let tiles = r.bit()?;
    let wavefront = r.bit()?;
    let parallelism = match (tiles, wavefront) {
        (true, true) => 0,
        (false, true) => 3,
        (true, false) => 2,
        (false, false) => 1,
    };
    Ok((id, parallelism))
}
