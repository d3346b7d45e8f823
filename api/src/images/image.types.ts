export const IMAGE_STATUSES = ['PENDING', 'INDEXED', 'REJECTED', 'FAILED', 'DELETED'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const TAG_SOURCES = ['user', 'clip-zero-shot', 'moderator'] as const;
export type TagSource = (typeof TAG_SOURCES)[number];

/** An `images` row as the API reads it (id as decimal text: int8 does not fit a JS number). */
export interface ImageRecord {
  id: string;
  storage_url: string;
  mime_type: string;
  byte_size: number;
  width: number;
  height: number;
  uploader_id: string;
  status: ImageStatus;
  sha256: string;
  safety_score: number | null;
  /** On the safety blocklist (a moderator flagged it). */
  flagged: boolean;
  created_at: Date;
  deleted_at: Date | null;
}

export interface TagRecord {
  image_id: string;
  label: string;
  confidence: number;
  source: TagSource;
}

export interface ImageStatsRecord {
  image_id: string;
  impressions: number;
  clicks: number;
  saves: number;
}
